//! Pictures of a world: Graphviz DOT text of its processes, fd tables, open
//! files, sockets (peers, names, states, listeners with their embryos) and
//! the messages in every receive queue with the files they carry.
//!
//! In-flight references (a message holding a file) are drawn in red. A
//! socket that no process can reach any more — not through an fd, nor
//! through a message queued on a socket it can reach — is marked: before
//! the collector ran, *unreachable* (the collector's to free); after a
//! `gc`, *leaked* (the collector left it, as Linux 6.18 leaves some).
//! The text is deterministic: nodes are named by socket ids and by the
//! order in which files are met, never by addresses.

use crate::fs::file::{File, FileKind};
use crate::net::unix::{Sock, SockState};
use crate::world::World;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::sync::Arc;

/// What a picture is taken after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// Any time: unreachable sockets are the collector's to free.
    Now,
    /// Right after the collector ran: what is unreachable was left by it.
    AfterGc,
}

struct Msg {
    id: u64,
    len: usize,
    files: Vec<Arc<File>>,
}

struct SockView {
    label: String,
    peer: Option<u64>,
    embryos: Vec<u64>,
    msgs: Vec<Msg>,
    dead: bool,
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl World {
    /// The world as a Graphviz DOT digraph (see [`crate::dot`]).
    pub fn dot(&self, moment: Moment) -> String {
        let k = self.kernel();
        // Files get names in the order they are met: fd tables first (by
        // pid, then fd), then messages (by socket id, then queue order).
        let mut file_ids: HashMap<*const File, usize> = HashMap::new();
        let mut files: Vec<Arc<File>> = Vec::new();
        let mut name_of = |f: &Arc<File>, files: &mut Vec<Arc<File>>| -> String {
            if let Some(s) = f.sock() {
                return format!("s{}", s.id);
            }
            let n = files.len();
            let id = *file_ids.entry(Arc::as_ptr(f)).or_insert_with(|| {
                files.push(Arc::clone(f));
                n
            });
            format!("f{id}")
        };

        let mut out = String::from("digraph world {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n  edge [fontsize=9];\n");
        // Processes and their fd tables.
        let mut from_fds: Vec<(String, String)> = Vec::new();
        let mut roots: Vec<Arc<Sock>> = Vec::new();
        let mut procs = k.procs.all();
        procs.sort_by_key(|p| p.pid);
        for p in procs {
            let t = p.fd_table();
            let _ = writeln!(
                out,
                "  subgraph cluster_p{} {{\n    label=\"pid {}\";",
                p.pid, p.pid
            );
            for (fd, e) in t.iter() {
                // /dev/null (fds 0-2 of every process) is not drawn.
                if matches!(e.file.kind, FileKind::Null) {
                    continue;
                }
                let node = format!("p{}_fd{fd}", p.pid);
                let cloexec = if e.cloexec { " (cloexec)" } else { "" };
                let _ = writeln!(out, "    {node} [shape=box, label=\"fd {fd}{cloexec}\"];");
                let target = name_of(&e.file, &mut files);
                if let Some(s) = e.file.sock() {
                    roots.push(Arc::clone(s));
                }
                from_fds.push((node, target));
            }
            out.push_str("  }\n");
        }

        // Every socket still in memory, by id.
        let mut socks: BTreeMap<u64, (Arc<Sock>, SockView)> = BTreeMap::new();
        for s in k.all_socks() {
            let g = s.lock();
            let state = match (g.dead, g.state) {
                (true, _) => "released",
                (false, SockState::Listen) => "LISTEN",
                (false, SockState::Established) => "ESTABLISHED",
                (false, SockState::Close) => "CLOSE",
            };
            let name = match s.addr.get() {
                Some(a) => format!("\\n{}", esc(&a.to_string())),
                None => String::new(),
            };
            let label = format!("{} #{}{name}\\n{state}\\nino {}", s.ty.name(), s.id, s.ino);
            let msgs = g
                .recvq
                .iter()
                .map(|skb| Msg {
                    id: skb.id,
                    len: skb.unread(),
                    files: skb.fds.to_vec(),
                })
                .collect();
            let view = SockView {
                label,
                peer: g.peer.as_ref().map(|p| p.id),
                embryos: g.accept_q.iter().map(|e| e.id).collect(),
                msgs,
                dead: g.dead,
            };
            drop(g);
            socks.insert(s.id, (Arc::clone(&s), view));
        }

        // Reachability: from the fd tables, through the files queued on
        // what is reachable, and from a listener to its embryos.
        let mut alive: BTreeSet<u64> = BTreeSet::new();
        let mut todo: Vec<u64> = roots.iter().map(|s| s.id).collect();
        while let Some(id) = todo.pop() {
            if !alive.insert(id) {
                continue;
            }
            if let Some((_, v)) = socks.get(&id) {
                for m in &v.msgs {
                    todo.extend(m.files.iter().filter_map(|f| f.sock().map(|s| s.id)));
                }
                todo.extend(v.embryos.iter().copied());
            }
        }

        for (id, (_, v)) in &socks {
            let (fill, verdict) = match (alive.contains(id), v.dead, moment) {
                (true, _, _) => ("white", ""),
                (false, true, _) => ("gray90", ""),
                (false, false, Moment::Now) => ("orange", "\\nunreachable"),
                (false, false, Moment::AfterGc) => ("tomato", "\\nleaked"),
            };
            let _ = writeln!(
                out,
                "  s{id} [shape=ellipse, style=filled, fillcolor={fill}, label=\"{}{verdict}\"];",
                v.label
            );
        }
        for (a, b) in &from_fds {
            let _ = writeln!(out, "  {a} -> {b};");
        }
        for (id, (_, v)) in &socks {
            if let Some(p) = v.peer {
                let _ = writeln!(out, "  s{id} -> s{p} [style=dashed, label=\"peer\"];");
            }
            for e in &v.embryos {
                let _ = writeln!(out, "  s{id} -> s{e} [style=dotted, label=\"embryo\"];");
            }
            for m in &v.msgs {
                let node = format!("s{id}_m{}", m.id);
                let _ = writeln!(
                    out,
                    "  {node} [shape=note, label=\"{} bytes{}\"];",
                    m.len,
                    if m.files.is_empty() {
                        String::new()
                    } else {
                        format!(", {} files", m.files.len())
                    }
                );
                let _ = writeln!(out, "  s{id} -> {node} [arrowhead=none, label=\"queued\"];");
                for f in &m.files {
                    let target = name_of(f, &mut files);
                    let _ = writeln!(
                        out,
                        "  {node} -> {target} [color=red, label=\"in flight\"];"
                    );
                }
            }
        }
        // The files that are not sockets, once every one has a name.
        for (i, f) in files.iter().enumerate() {
            let kind = match &f.kind {
                FileKind::Memfd(_) => "memfd",
                FileKind::PipeRead(_) => "pipe (read)",
                FileKind::PipeWrite(_) => "pipe (write)",
                FileKind::Null => "/dev/null",
                FileKind::Pidfd(_) => "pidfd",
                FileKind::Regular(_) => "file",
                FileKind::Dir => "directory",
                FileKind::Path => "O_PATH",
                FileKind::External(..) => "external",
                FileKind::Socket(_) => "socket",
            };
            let _ = writeln!(
                out,
                "  f{i} [shape=box, style=rounded, label=\"{kind}\\nf_count {}\"];",
                f.count()
            );
        }
        out.push_str("}\n");
        out
    }
}
