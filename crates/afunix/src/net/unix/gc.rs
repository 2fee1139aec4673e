//! The in-flight garbage collector (`net/unix/garbage.c`).
//!
//! Every socket whose file sits in a queued message is a vertex; each
//! in-flight copy is an edge to the socket whose queue holds it (an
//! embryo's edges lead to its listener). The graph is kept under its own
//! lock (`unix_gc_lock`), touched only when files travel
//! (`unix_add_edges` at enqueue, `unix_del_edges` when the message leaves).
//! A strongly connected component is dead when no edge leaves it and every
//! file's `f_count` equals its number of in-flight copies: only the cycle
//! keeps it alive. Its queues are purged, which drops those references.

use super::{Skb, Sock, SockInner};
use crate::file::{File, FileKind};
use crate::world::{lock, Kernel};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Weak};

/// One in-flight socket (`struct unix_vertex`).
#[derive(Debug)]
struct Vertex {
    sock: Weak<Sock>,
    file: Weak<File>,
    /// Receivers holding a copy (`unix_edge.successor`), by socket id.
    succ: Vec<u64>,
}

/// The in-flight graph and counters.
#[derive(Debug, Default)]
pub struct GcState {
    vertices: HashMap<u64, Vertex>,
    /// Embryo id → listener id, until accept (`unix_update_edges`).
    embryo_listener: HashMap<u64, u64>,
    /// `user->unix_inflight`: fds in flight per sending uid.
    user_inflight: HashMap<u32, usize>,
    /// Files in flight, of any kind.
    tot_inflight: usize,
}

impl Kernel {
    /// `unix_add_edges` (from `scm_stat_add`): a message carrying files is
    /// queued on `receiver` (whose lock the caller holds).
    pub(crate) fn unix_add_edges(&self, receiver: &Sock, _locked: &SockInner, skb: &Skb) {
        if skb.fds.is_empty() {
            return;
        }
        let mut gc = lock(&self.gc);
        *gc.user_inflight.entry(skb.fp_user).or_default() += skb.fds.len();
        gc.tot_inflight += skb.fds.len();
        for f in &skb.fds {
            if let FileKind::Socket(s) = &f.kind {
                gc.vertices
                    .entry(s.id)
                    .or_insert_with(|| Vertex {
                        sock: Arc::downgrade(s),
                        file: Arc::downgrade(f),
                        succ: Vec::new(),
                    })
                    .succ
                    .push(receiver.id);
            }
        }
    }

    /// `unix_del_edges`: a message carrying files left `receiver`'s queue.
    pub(crate) fn unix_del_edges(&self, receiver: &Sock, skb: &Skb) {
        self.unix_del_edges_fds(receiver, skb.fp_user, &skb.fds);
    }

    /// `unix_del_edges` for files detached from a message that stays queued
    /// (a stream read that took its files with part of its bytes).
    pub(crate) fn unix_del_edges_fds(&self, receiver: &Sock, fp_user: u32, fds: &[Arc<File>]) {
        if fds.is_empty() {
            return;
        }
        let mut gc = lock(&self.gc);
        if let Some(n) = gc.user_inflight.get_mut(&fp_user) {
            *n = n.saturating_sub(fds.len());
        }
        gc.tot_inflight = gc.tot_inflight.saturating_sub(fds.len());
        for f in fds {
            if let FileKind::Socket(s) = &f.kind {
                let empty = match gc.vertices.get_mut(&s.id) {
                    Some(v) => {
                        if let Some(i) = v.succ.iter().position(|&r| r == receiver.id) {
                            v.succ.swap_remove(i);
                        }
                        v.succ.is_empty()
                    }
                    None => false,
                };
                if empty {
                    gc.vertices.remove(&s.id);
                }
            }
        }
    }

    /// An embryo's edges lead to its listener until it is accepted.
    pub(crate) fn gc_note_embryo(&self, embryo: &Sock, listener: &Sock) {
        lock(&self.gc)
            .embryo_listener
            .insert(embryo.id, listener.id);
    }

    /// `unix_update_edges`: the embryo was accepted (or dropped).
    pub(crate) fn gc_forget_embryo(&self, embryo: &Sock) {
        lock(&self.gc).embryo_listener.remove(&embryo.id);
    }

    /// `user->unix_inflight`.
    pub(crate) fn user_inflight(&self, uid: u32) -> usize {
        lock(&self.gc).user_inflight.get(&uid).copied().unwrap_or(0)
    }

    /// Files in flight (`unix_tot_inflight`, counting every kind).
    pub(crate) fn unix_tot_inflight(&self) -> usize {
        lock(&self.gc).tot_inflight
    }

    /// `unix_gc` / `__unix_gc`: find dead SCCs and purge them, until none is left.
    pub(crate) fn unix_gc(&self) {
        loop {
            let dead = self.dead_vertices();
            if dead.is_empty() {
                return;
            }
            let mut hit: Vec<(Arc<Sock>, Vec<Skb>)> = Vec::new();
            for s in dead {
                let (skbs, embryos) = {
                    let mut g = s.lock();
                    g.oob_skb = None;
                    (
                        g.recvq.drain(..).collect::<Vec<_>>(),
                        g.accept_q.iter().cloned().collect::<Vec<_>>(),
                    )
                };
                for e in embryos {
                    let skbs = {
                        let mut g = e.lock();
                        g.oob_skb = None;
                        g.recvq.drain(..).collect::<Vec<_>>()
                    };
                    hit.push((e, skbs));
                }
                hit.push((s, skbs));
            }
            if hit.iter().all(|(_, v)| v.is_empty()) {
                return;
            }
            for (s, skbs) in hit {
                self.skbs_free(&s, skbs);
            }
        }
    }

    /// The sockets of every dead SCC (`unix_walk_scc`, `unix_scc_dead`).
    fn dead_vertices(&self) -> Vec<Arc<Sock>> {
        let gc = lock(&self.gc);
        if gc.vertices.is_empty() {
            return Vec::new();
        }
        let resolve = |r: u64| gc.embryo_listener.get(&r).copied().unwrap_or(r);
        let graph: BTreeMap<u64, Vec<u64>> = gc
            .vertices
            .iter()
            .map(|(&v, x)| (v, x.succ.iter().map(|&r| resolve(r)).collect()))
            .collect();
        let mut out = Vec::new();
        for scc in tarjan(&graph) {
            let members: BTreeSet<u64> = scc.iter().copied().collect();
            let dead = scc.iter().all(|v| {
                let succ = &graph[v];
                let count = gc
                    .vertices
                    .get(v)
                    .and_then(|x| x.file.upgrade())
                    .map_or(0, |f| f.count());
                succ.iter().all(|s| members.contains(s)) && count == succ.len()
            });
            if dead {
                out.extend(
                    scc.iter()
                        .filter_map(|v| gc.vertices.get(v).and_then(|x| x.sock.upgrade())),
                );
            }
        }
        out
    }

    /// The model's invariants (see [`crate::World::check_invariants`]).
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut refs: HashMap<*const File, (Arc<File>, usize)> = HashMap::new();
        let procs = self.procs.all();
        for p in procs {
            for (_, e) in lock(&p.fds).iter() {
                refs.entry(Arc::as_ptr(&e.file))
                    .or_insert_with(|| (Arc::clone(&e.file), 0))
                    .1 += 1;
            }
        }
        for s in self.all_socks() {
            let g = s.lock();
            if g.dead && !g.recvq.is_empty() {
                return Err(format!(
                    "released socket {} still has queued messages",
                    s.id
                ));
            }
            if !g.dead && g.file.is_none() && g.listener.is_none() {
                return Err(format!(
                    "live socket {} has neither a file nor a listener",
                    s.id
                ));
            }
            if !g.dead && g.file.as_ref().is_some_and(|f| f.strong_count() == 0) {
                return Err(format!("live socket {} lost its file", s.id));
            }
            for skb in &g.recvq {
                for f in &skb.fds {
                    refs.entry(Arc::as_ptr(f))
                        .or_insert_with(|| (Arc::clone(f), 0))
                        .1 += 1;
                }
            }
        }
        for (f, n) in refs.values() {
            if f.count() != *n {
                return Err(format!(
                    "a {} file has f_count {} but {} references exist",
                    f.kind_name(),
                    f.count(),
                    n
                ));
            }
        }
        let live = self.files_live.load(std::sync::atomic::Ordering::SeqCst);
        if refs.len() != live {
            return Err(format!(
                "{live} open files are alive but {} are reachable from fd tables and queues",
                refs.len()
            ));
        }
        Ok(())
    }
}

/// Tarjan's strongly connected components, iteratively so that deep graphs
/// cannot overflow the stack. Edges to non-vertices are ignored.
fn tarjan(graph: &BTreeMap<u64, Vec<u64>>) -> Vec<Vec<u64>> {
    #[derive(Clone, Copy)]
    struct St {
        index: usize,
        low: usize,
        on_stack: bool,
    }
    let mut st: HashMap<u64, St> = HashMap::new();
    let mut stack: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0usize;
    for &root in graph.keys() {
        if st.contains_key(&root) {
            continue;
        }
        let mut work: Vec<(u64, usize)> = vec![(root, 0)];
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
            if let Some(&w) = graph[&v].get(*pos) {
                *pos += 1;
                if !graph.contains_key(&w) {
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

#[cfg(test)]
mod tests {
    use super::tarjan;
    use std::collections::BTreeMap;

    #[test]
    fn sccs_of_the_selftest_topologies() {
        // scm_rights.c cross_edge: 0→1, 1→2, 2→0, 1→3, 3→2 — one SCC of four.
        let g: BTreeMap<u64, Vec<u64>> =
            [(0, vec![1]), (1, vec![2, 3]), (2, vec![0]), (3, vec![2])]
                .into_iter()
                .collect();
        let sccs = tarjan(&g);
        assert_eq!(sccs.len(), 1);
        assert_eq!(sccs[0].len(), 4);
        // mixed_lowpoint: 0→1, 1→2, 2→1, 1→0 plus a tail 3→0 — {0,1,2} and {3}.
        let g: BTreeMap<u64, Vec<u64>> =
            [(0, vec![1]), (1, vec![2, 0]), (2, vec![1]), (3, vec![0])]
                .into_iter()
                .collect();
        let mut sizes: Vec<usize> = tarjan(&g).iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, vec![1, 3]);
    }
}
