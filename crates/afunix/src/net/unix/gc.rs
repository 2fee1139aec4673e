//! The in-flight garbage collector (`net/unix/garbage.c`): sockets whose
//! only references are fds in flight inside each other's queues form dead
//! strongly connected components; their queues are purged, which drops
//! those references and releases the sockets.
//!
//! The kernel keeps the graph incrementally (`unix_add_edges`,
//! `unix_del_edges`); the model derives the same graph from the queues
//! each time it collects, which gives the same verdicts.

use super::{Skb, SockId};
use crate::file::{FileId, FileKind};
use crate::world::Kernel;
use std::collections::{BTreeMap, BTreeSet};

/// One in-flight socket (`struct unix_vertex`).
#[derive(Debug, Default)]
struct Vertex {
    /// Receivers holding a copy of this socket (`unix_edge.successor`),
    /// embryos resolved to their listener.
    successors: Vec<SockId>,
}

impl Kernel {
    /// The socket whose vertex an edge into `r` reaches: the listener of an
    /// embryo not yet accepted (`unix_edge_successor`).
    fn gc_successor(&self, r: SockId) -> SockId {
        self.sock(r).listener.unwrap_or(r)
    }

    /// `unix_gc` / `__unix_gc`: find dead SCCs and purge them.
    pub(crate) fn unix_gc(&mut self) {
        if self.gc_running {
            return;
        }
        self.gc_running = true;
        loop {
            let hit = self.unix_gc_round();
            if hit.is_empty() {
                break;
            }
            for skb in hit {
                self.skb_free(skb);
            }
        }
        self.gc_running = false;
    }

    fn unix_gc_round(&mut self) -> Vec<Skb> {
        // Build the graph: vertices are sockets whose file is in flight.
        let mut vertices: BTreeMap<SockId, Vertex> = BTreeMap::new();
        let mut file_of: BTreeMap<SockId, FileId> = BTreeMap::new();
        for (ri, r) in self.socks.iter() {
            for skb in &r.recvq {
                for &f in &skb.fds {
                    if let Some(FileKind::Socket(s)) = self.files.get(f.0).map(|x| &x.kind) {
                        let succ = self.gc_successor(SockId(ri));
                        vertices.entry(*s).or_default().successors.push(succ);
                        file_of.insert(*s, f);
                    }
                }
            }
        }
        if vertices.is_empty() {
            return Vec::new();
        }
        let sccs = tarjan(&vertices);
        let mut hit = Vec::new();
        for scc in sccs {
            let members: BTreeSet<SockId> = scc.iter().copied().collect();
            let dead = scc.iter().all(|v| {
                let vx = &vertices[v];
                let out_degree = vx.successors.len();
                let count = file_of
                    .get(v)
                    .and_then(|f| self.files.get(f.0))
                    .map_or(0, |f| f.count);
                vx.successors.iter().all(|s| members.contains(s)) && count == out_degree
            });
            if !dead {
                continue;
            }
            for v in scc {
                let embryos: Vec<SockId> = self.sock(v).accept_q.iter().copied().collect();
                for q in std::iter::once(v).chain(embryos) {
                    let sk = self.sock_mut(q);
                    hit.extend(sk.recvq.drain(..));
                    sk.oob_skb = None;
                }
            }
        }
        hit
    }

    /// The model's invariants (see [`crate::World::check_invariants`]).
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut refs: BTreeMap<usize, usize> = BTreeMap::new();
        for p in self.procs.values() {
            for (_, e) in p.fds.iter() {
                *refs.entry(e.file.0).or_default() += 1;
            }
        }
        let mut sock_refs: BTreeMap<usize, usize> = BTreeMap::new();
        for (si, sk) in self.socks.iter() {
            if !sk.dead {
                *sock_refs.entry(si).or_default() += 1;
            }
            if let Some(p) = sk.peer {
                *sock_refs.entry(p.0).or_default() += 1;
            }
            for skb in &sk.recvq {
                *sock_refs.entry(skb.sender.0).or_default() += 1;
                for f in &skb.fds {
                    *refs.entry(f.0).or_default() += 1;
                }
            }
            if sk.dead && !sk.recvq.is_empty() {
                return Err(format!("released socket {si} still has queued messages"));
            }
            if !sk.dead && sk.file.is_none() && sk.listener.is_none() {
                return Err(format!(
                    "live socket {si} has neither a file nor a listener"
                ));
            }
        }
        for (fi, f) in self.files.iter() {
            let want = refs.get(&fi).copied().unwrap_or(0);
            if f.count != want {
                return Err(format!(
                    "file {fi} ({:?}) has f_count {} but {} references exist",
                    kind_name(&f.kind),
                    f.count,
                    want
                ));
            }
            if f.count == 0 {
                return Err(format!("file {fi} is alive with no reference"));
            }
            if let FileKind::Socket(s) = f.kind {
                match self.socks.get(s.0) {
                    Some(sk) if sk.file == Some(FileId(fi)) => {}
                    _ => {
                        return Err(format!(
                            "file {fi} points to socket {} which does not point back",
                            s.0
                        ))
                    }
                }
            }
        }
        for fi in refs.keys() {
            if self.files.get(*fi).is_none() {
                return Err(format!("a reference to released file {fi} remains"));
            }
        }
        for (si, sk) in self.socks.iter() {
            let want = sock_refs.get(&si).copied().unwrap_or(0);
            if sk.refs != want {
                return Err(format!(
                    "socket {si} has {} references counted but {} exist",
                    sk.refs, want
                ));
            }
        }
        for si in sock_refs.keys() {
            if self.socks.get(*si).is_none() {
                return Err(format!("a reference to freed socket {si} remains"));
            }
        }
        Ok(())
    }
}

fn kind_name(k: &FileKind) -> &'static str {
    match k {
        FileKind::Null => "null",
        FileKind::Memfd { .. } => "memfd",
        FileKind::PipeRead(_) => "pipe-r",
        FileKind::PipeWrite(_) => "pipe-w",
        FileKind::Socket(_) => "socket",
        FileKind::Pidfd(_) => "pidfd",
    }
}

/// Tarjan's strongly connected components over the in-flight graph
/// (`unix_walk_scc`), iteratively so that deep graphs cannot overflow the stack.
fn tarjan(vertices: &BTreeMap<SockId, Vertex>) -> Vec<Vec<SockId>> {
    #[derive(Clone, Copy)]
    struct St {
        index: usize,
        low: usize,
        on_stack: bool,
    }
    let mut st: BTreeMap<SockId, St> = BTreeMap::new();
    let mut stack: Vec<SockId> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0usize;
    for &root in vertices.keys() {
        if st.contains_key(&root) {
            continue;
        }
        // (vertex, next successor position)
        let mut work: Vec<(SockId, usize)> = vec![(root, 0)];
        st.insert(
            root,
            St {
                index: next,
                low: next,
                on_stack: true,
            },
        );
        next += 1;
        stack.push(root);
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            let succs = &vertices[&v].successors;
            if let Some(&w) = succs.get(*pos) {
                *pos += 1;
                if !vertices.contains_key(&w) {
                    continue;
                }
                match st.get(&w).copied() {
                    None => {
                        st.insert(
                            w,
                            St {
                                index: next,
                                low: next,
                                on_stack: true,
                            },
                        );
                        next += 1;
                        stack.push(w);
                        work.push((w, 0));
                    }
                    Some(ws) if ws.on_stack => {
                        if let Some(vs) = st.get_mut(&v) {
                            vs.low = vs.low.min(ws.index);
                        }
                    }
                    Some(_) => {}
                }
            } else {
                work.pop();
                let vs = st[&v];
                if let Some(&(parent, _)) = work.last() {
                    if let Some(ps) = st.get_mut(&parent) {
                        ps.low = ps.low.min(vs.low);
                    }
                }
                if vs.low == vs.index {
                    let mut scc = Vec::new();
                    while let Some(w) = stack.pop() {
                        if let Some(ws) = st.get_mut(&w) {
                            ws.on_stack = false;
                        }
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(scc);
                }
            }
        }
    }
    out
}
