//! The in-flight garbage collector (`net/unix/garbage.c`, the graph
//! collector of Linux 6.10+).
//!
//! Every socket whose file sits in a queued message is a vertex; each
//! in-flight copy is an edge to the socket whose queue holds it (an
//! embryo's edges lead to its listener: `unix_edge_successor`). The graph
//! is kept under its own lock (`unix_gc_lock`), touched only when files
//! travel (`unix_add_edges` at enqueue, `unix_del_edges` when the message
//! leaves).
//!
//! The model walks the graph exactly as the kernel does, because the
//! kernel's walk is observable: vertices in the order they first went in
//! flight, edges in the order they were added, the kernel's index and
//! `scc_index` bookkeeping (which on some edge orders leaves one strongly
//! connected component with two `scc_index` values, so that it is never
//! found dead: the `mixed_lowpoint` case of the selftests, a leak on
//! 6.18), the grouping a full walk leaves behind and the fast walk reuses
//! while no edge changed, and the flags that let a run skip the walk.

use super::{Skb, Sock, SockInner};
use crate::file::{File, FileKind};
use crate::world::{lock, Kernel};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

/// How the collector groups a strongly connected component it finalises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GcWalk {
    /// As Linux 6.18 does: each vertex keeps the `scc_index` it had when
    /// the walk left it, so on some edge orders one component carries two
    /// values and is never found dead (the `mixed_lowpoint` leak).
    #[default]
    Linux618,
    /// Every vertex of a finalised component gets its root's `scc_index`,
    /// so every garbage cycle is collected (a kernel with the fix).
    Fixed,
}

/// `UNIX_VERTEX_INDEX_MARK1`, `_MARK2`, `_START`.
const MARK1: u64 = 0;
const MARK2: u64 = 1;
const INDEX_START: u64 = 2;

/// One in-flight copy of a socket (`struct unix_edge`).
#[derive(Debug, Clone, Copy)]
struct Edge {
    /// The socket whose queue holds the copy (`edge->successor`).
    succ: u64,
    /// The message carrying it: (receiver id, message id).
    skb: (u64, u64),
}

/// One in-flight socket (`struct unix_vertex`).
#[derive(Debug)]
struct Vertex {
    sock: Weak<Sock>,
    file: Weak<File>,
    /// `vertex->edges`, in the order they were added.
    edges: Vec<Edge>,
    index: u64,
    scc_index: u64,
    /// The vertices of its SCC from the last full walk (`scc_entry`
    /// ring), in DFS push order; a new vertex is alone.
    group: u64,
    /// When it went in flight (`seq` of its entries in the vertex lists:
    /// an entry of an earlier life of the same socket is stale).
    seq: u64,
    /// The walk that last finalised it.
    walked: u64,
}

/// The in-flight graph and counters.
#[derive(Debug)]
pub struct GcState {
    vertices: HashMap<u64, Vertex>,
    /// `unix_unvisited_vertices`, in list order, as (vertex, seq). The
    /// kernel's list removes a vertex in O(1); here an entry whose vertex
    /// is gone, or came back with another `seq`, or was walked already in
    /// this walk, is skipped (and compacted away), which is as cheap.
    unvisited: Vec<(u64, u64)>,
    /// SCC groups (rings) by id; a member that left (or moved to another
    /// group) is skipped when the ring is read.
    groups: HashMap<u64, Vec<u64>>,
    /// The next `Vertex::seq`.
    next_seq: u64,
    /// The current walk (`Vertex::walked`).
    epoch: u64,
    next_group: u64,
    /// Embryo id → listener id, until accept (`unix_update_edges`).
    embryo_listener: HashMap<u64, u64>,
    /// `user->unix_inflight`: fds in flight per sending uid (every kind).
    user_inflight: HashMap<u32, usize>,
    /// `unix_tot_inflight`: unix sockets in flight.
    tot_inflight: usize,
    unvisited_index: u64,
    grouped_index: u64,
    /// A fresh `scc_index` for new vertices (`unix_vertex_max_scc_index`).
    max_scc_index: u64,
    /// `unix_graph_state != NOT_CYCLIC`.
    maybe_cyclic: bool,
    /// `unix_graph_state == CYCLIC`: the groups are up to date.
    grouped: bool,
    /// Which walk.
    pub(crate) walk: GcWalk,
}

impl Default for GcState {
    fn default() -> Self {
        GcState {
            vertices: HashMap::new(),
            unvisited: Vec::new(),
            groups: HashMap::new(),
            next_seq: 0,
            epoch: 0,
            next_group: 0,
            embryo_listener: HashMap::new(),
            user_inflight: HashMap::new(),
            tot_inflight: 0,
            unvisited_index: MARK1,
            grouped_index: MARK2,
            max_scc_index: 1 << 40,
            maybe_cyclic: false,
            grouped: false,
            walk: GcWalk::default(),
        }
    }
}

impl GcState {
    /// `unix_edge_successor`: the vertex an edge leads to, if the
    /// receiver (or an embryo's listener) is itself in flight.
    fn successor(&self, e: &Edge) -> Option<u64> {
        let r = self.embryo_listener.get(&e.succ).copied().unwrap_or(e.succ);
        self.vertices.contains_key(&r).then_some(r)
    }

    /// `unix_update_graph`: an edge into an in-flight socket changed.
    fn update_graph(&mut self, succ: Option<u64>) {
        if succ.is_some() {
            self.maybe_cyclic = true;
            self.grouped = false;
        }
    }

    // unix_add_edge
    fn add_edge(&mut self, pred: &Arc<Sock>, file: &Arc<File>, e: Edge) {
        if !self.vertices.contains_key(&pred.id) {
            self.max_scc_index += 1;
            let group = self.next_group;
            self.next_group += 1;
            self.groups.insert(group, vec![pred.id]);
            self.next_seq += 1;
            let seq = self.next_seq;
            self.vertices.insert(
                pred.id,
                Vertex {
                    sock: Arc::downgrade(pred),
                    file: Arc::downgrade(file),
                    edges: Vec::new(),
                    index: self.unvisited_index,
                    scc_index: self.max_scc_index,
                    group,
                    seq,
                    walked: 0,
                },
            );
            // list_add_tail(&vertex->entry, &unix_unvisited_vertices)
            if self.unvisited.len() > 2 * self.vertices.len() + 64 {
                let vs = &self.vertices;
                self.unvisited
                    .retain(|(id, seq)| vs.get(id).is_some_and(|v| v.seq == *seq));
            }
            self.unvisited.push((pred.id, seq));
        }
        if let Some(v) = self.vertices.get_mut(&pred.id) {
            v.edges.push(e);
        }
        let succ = self.successor(&e);
        self.update_graph(succ);
    }

    // unix_del_edge
    fn del_edge(&mut self, pred: u64, skb: (u64, u64), dead: bool) {
        let Some(v) = self.vertices.get(&pred) else {
            return;
        };
        let Some(pos) = v.edges.iter().position(|e| e.skb == skb) else {
            return;
        };
        let e = v.edges[pos];
        if !dead {
            let succ = self.successor(&e);
            self.update_graph(succ);
        }
        let Some(v) = self.vertices.get_mut(&pred) else {
            return;
        };
        v.edges.remove(pos);
        if v.edges.is_empty() {
            // list_del(&vertex->entry): its list entries go stale.
            let group = v.group;
            self.vertices.remove(&pred);
            if self.groups.get(&group).is_some_and(|g| g.len() == 1) {
                self.groups.remove(&group);
            }
        }
    }

    // unix_vertex_dead
    fn vertex_dead(&self, v: u64) -> bool {
        let Some(vx) = self.vertices.get(&v) else {
            return false;
        };
        for e in &vx.edges {
            let Some(n) = self.successor(e) else {
                return false;
            };
            if self.vertices.get(&n).map(|x| x.scc_index) != Some(vx.scc_index) {
                return false;
            }
        }
        let count = vx.file.upgrade().map_or(0, |f| f.count());
        count == vx.edges.len()
    }

    // unix_scc_cyclic
    fn scc_cyclic(&self, scc: &[u64]) -> bool {
        match scc {
            [v] => self
                .vertices
                .get(v)
                .is_some_and(|x| x.edges.iter().any(|e| self.successor(e) == Some(*v))),
            _ => true,
        }
    }

    /// Finalise one SCC (push order, root first): mark it visited, decide
    /// whether it is dead. Returns its sockets when it is.
    fn finalise(
        &mut self,
        scc: &[u64],
        visited: &mut Vec<(u64, u64)>,
        marks: bool,
    ) -> Option<Vec<u64>> {
        let mut dead = true;
        for &v in scc {
            let epoch = self.epoch;
            if let Some(x) = self.vertices.get_mut(&v) {
                x.walked = epoch;
                visited.push((v, x.seq));
            }
            if marks {
                let gi = self.grouped_index;
                if let Some(x) = self.vertices.get_mut(&v) {
                    x.index = gi;
                }
            }
            if dead {
                dead = self.vertex_dead(v);
            }
        }
        if dead {
            return Some(scc.to_vec());
        }
        if !self.maybe_cyclic {
            self.maybe_cyclic = self.scc_cyclic(scc);
        }
        None
    }

    // __unix_walk_scc: Tarjan's walk with the kernel's bookkeeping.
    fn walk_scc(
        &mut self,
        root: u64,
        last_index: &mut u64,
        visited: &mut Vec<(u64, u64)>,
        hit: &mut Vec<Vec<u64>>,
    ) {
        let mut vstack: Vec<u64> = Vec::new();
        // (predecessor, position of the edge taken) for backtracking.
        let mut estack: Vec<(u64, usize)> = Vec::new();
        let mut v = root;
        'next_vertex: loop {
            vstack.push(v);
            if let Some(x) = self.vertices.get_mut(&v) {
                x.index = *last_index;
                x.scc_index = *last_index;
            }
            *last_index += 1;
            let mut i = 0usize;
            loop {
                while let Some(e) = self.vertices.get(&v).and_then(|x| x.edges.get(i)).copied() {
                    if let Some(n) = self.successor(&e) {
                        let (n_index, n_scc) = self
                            .vertices
                            .get(&n)
                            .map_or((0, 0), |x| (x.index, x.scc_index));
                        if n_index == self.unvisited_index {
                            estack.push((v, i));
                            v = n;
                            continue 'next_vertex;
                        } else if n_index != self.grouped_index {
                            // A back or cross edge to a vertex on the stack.
                            if let Some(x) = self.vertices.get_mut(&v) {
                                x.scc_index = x.scc_index.min(n_scc);
                            }
                        }
                    }
                    i += 1;
                }
                let (index, scc_index) = self
                    .vertices
                    .get(&v)
                    .map_or((0, 0), |x| (x.index, x.scc_index));
                if index == scc_index {
                    let at = vstack.iter().rposition(|&x| x == v).unwrap_or(0);
                    let scc: Vec<u64> = vstack.split_off(at);
                    let group = self.next_group;
                    self.next_group += 1;
                    // (The old rings were dropped when the walk began.)
                    for &x in &scc {
                        if let Some(vx) = self.vertices.get_mut(&x) {
                            vx.group = group;
                        }
                    }
                    self.groups.insert(group, scc.clone());
                    if self.walk == GcWalk::Fixed {
                        for &x in &scc {
                            if let Some(vx) = self.vertices.get_mut(&x) {
                                vx.scc_index = scc_index;
                            }
                        }
                    }
                    if let Some(d) = self.finalise(&scc, visited, true) {
                        hit.push(d);
                    }
                }
                // Backtrack: the edge to the current vertex, its ancestor.
                let Some((pred, pos)) = estack.pop() else {
                    return;
                };
                let child_scc = self.vertices.get(&v).map_or(u64::MAX, |x| x.scc_index);
                v = pred;
                if let Some(x) = self.vertices.get_mut(&v) {
                    x.scc_index = x.scc_index.min(child_scc);
                }
                i = pos + 1;
            }
        }
    }

    // unix_walk_scc
    fn walk_full(&mut self) -> Vec<Vec<u64>> {
        let mut last_index = INDEX_START;
        let mut visited = Vec::new();
        let mut hit = Vec::new();
        self.maybe_cyclic = false;
        self.epoch += 1;
        // Every vertex is walked and regrouped: the old rings go.
        self.groups.clear();
        let unvisited = std::mem::take(&mut self.unvisited);
        for &(root, seq) in &unvisited {
            // The first entry of the list that is still unvisited.
            let fresh = self
                .vertices
                .get(&root)
                .is_some_and(|v| v.seq == seq && v.walked != self.epoch);
            if fresh {
                self.walk_scc(root, &mut last_index, &mut visited, &mut hit);
            }
        }
        self.unvisited = visited;
        std::mem::swap(&mut self.unvisited_index, &mut self.grouped_index);
        self.grouped = true;
        hit
    }

    // unix_walk_scc_fast: the groups of the last full walk, as they are.
    fn walk_fast(&mut self) -> Vec<Vec<u64>> {
        let mut visited = Vec::new();
        let mut hit = Vec::new();
        self.maybe_cyclic = false;
        self.epoch += 1;
        let unvisited = std::mem::take(&mut self.unvisited);
        for &(v, seq) in &unvisited {
            let Some(vx) = self.vertices.get(&v) else {
                continue;
            };
            if vx.seq != seq || vx.walked == self.epoch {
                continue;
            }
            let g = vx.group;
            let ring: Vec<u64> = match self.groups.get(&g) {
                Some(members) => members
                    .iter()
                    .copied()
                    .filter(|m| self.vertices.get(m).is_some_and(|x| x.group == g))
                    .collect(),
                None => vec![v],
            };
            let at = ring.iter().position(|&x| x == v).unwrap_or(0);
            let mut scc: Vec<u64> = ring[at..].to_vec();
            scc.extend_from_slice(&ring[..at]);
            if let Some(d) = self.finalise(&scc, &mut visited, false) {
                hit.push(d);
            }
        }
        self.unvisited = visited;
        hit
    }
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
        for f in &skb.fds {
            if let FileKind::Socket(s) = &f.kind {
                gc.tot_inflight += 1;
                gc.add_edge(
                    s,
                    f,
                    Edge {
                        succ: receiver.id,
                        skb: (receiver.id, skb.id),
                    },
                );
            }
        }
    }

    /// `unix_del_edges`: a message carrying files left `receiver`'s queue
    /// (`dead`: purged by the collector, which changes no graph state).
    pub(crate) fn unix_del_edges(&self, receiver: &Sock, skb: &Skb, dead: bool) {
        self.unix_del_edges_fds(receiver, skb.id, skb.fp_user, &skb.fds, dead);
    }

    /// `unix_del_edges` for the files of message `skb_id` of `receiver`,
    /// also when they leave a message that stays queued (a stream read
    /// that took them with part of its bytes: `unix_detach_fds`).
    pub(crate) fn unix_del_edges_fds(
        &self,
        receiver: &Sock,
        skb_id: u64,
        fp_user: u32,
        fds: &[Arc<File>],
        dead: bool,
    ) {
        if fds.is_empty() {
            return;
        }
        let mut gc = lock(&self.gc);
        if let Some(n) = gc.user_inflight.get_mut(&fp_user) {
            *n = n.saturating_sub(fds.len());
        }
        for f in fds {
            if let FileKind::Socket(s) = &f.kind {
                gc.tot_inflight = gc.tot_inflight.saturating_sub(1);
                gc.del_edge(s.id, (receiver.id, skb_id), dead);
            }
        }
    }

    /// An embryo's edges lead to its listener until it is accepted.
    pub(crate) fn gc_note_embryo(&self, embryo: &Sock, listener: &Sock) {
        lock(&self.gc)
            .embryo_listener
            .insert(embryo.id, listener.id);
    }

    /// `unix_update_edges`: the embryo was accepted (or dropped). If files
    /// are queued on it, their edges now lead elsewhere.
    pub(crate) fn gc_forget_embryo(&self, embryo: &Sock) {
        let mut gc = lock(&self.gc);
        let Some(listener) = gc.embryo_listener.remove(&embryo.id) else {
            return;
        };
        let has_fds = gc
            .vertices
            .values()
            .any(|v| v.edges.iter().any(|e| e.succ == embryo.id));
        if has_fds {
            let l = gc.vertices.contains_key(&listener).then_some(listener);
            gc.update_graph(l);
        }
    }

    /// `user->unix_inflight`.
    pub(crate) fn user_inflight(&self, uid: u32) -> usize {
        lock(&self.gc).user_inflight.get(&uid).copied().unwrap_or(0)
    }

    /// `unix_tot_inflight`: unix sockets in flight.
    pub(crate) fn unix_tot_inflight(&self) -> usize {
        lock(&self.gc).tot_inflight
    }

    /// `unix_gc`: the collector's work item. The kernel queues it
    /// (`unix_schedule_gc` → `queue_work`); a run requested while it runs
    /// — by the releases of the sockets it frees — runs again right after
    /// it, so collection goes on until nothing more is found. The model
    /// runs the work at once on the requesting thread, and a request made
    /// from inside a run marks the work for one more run.
    pub(crate) fn unix_gc(&self) {
        crate::path::step("unix_gc");
        thread_local! {
            static IN_GC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        }
        if IN_GC.with(|c| c.get()) {
            self.gc_requeued
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return;
        }
        let _work = lock(&self.gc_work);
        IN_GC.with(|c| c.set(true));
        loop {
            self.gc_requeued
                .store(false, std::sync::atomic::Ordering::SeqCst);
            self.__unix_gc();
            if !self
                .gc_requeued
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                break;
            }
        }
        IN_GC.with(|c| c.set(false));
    }

    /// `__unix_gc`: walk the graph (fully, or over the last grouping while
    /// no edge changed), purge the queues of dead SCCs.
    #[allow(non_snake_case)]
    fn __unix_gc(&self) {
        let dead: Vec<Arc<Sock>> = {
            let mut gc = lock(&self.gc);
            if !gc.maybe_cyclic {
                return;
            }
            let hit = if gc.grouped {
                gc.walk_fast()
            } else {
                gc.walk_full()
            };
            hit.into_iter()
                .flatten()
                .filter_map(|v| gc.vertices.get(&v).and_then(|x| x.sock.upgrade()))
                .collect()
        };
        // unix_collect_skb: splice the queues (a listener's: its embryos').
        let mut hit: Vec<(Arc<Sock>, Vec<Skb>)> = Vec::new();
        let mut seen = HashSet::new();
        for s in dead {
            if !seen.insert(s.id) {
                continue;
            }
            let (skbs, embryos, listening) = {
                let mut g = s.lock();
                let listening = g.state == super::SockState::Listen;
                let skbs: Vec<Skb> = if listening {
                    Vec::new()
                } else {
                    g.recvq.drain(..).collect()
                };
                if !listening {
                    g.oob_skb = None;
                }
                (
                    skbs,
                    g.accept_q.iter().cloned().collect::<Vec<_>>(),
                    listening,
                )
            };
            if listening {
                for e in embryos {
                    let skbs = {
                        let mut g = e.lock();
                        g.oob_skb = None;
                        g.recvq.drain(..).collect::<Vec<_>>()
                    };
                    hit.push((e, skbs));
                }
            }
            hit.push((s, skbs));
        }
        // __skb_queue_purge with fpl->dead set.
        for (s, skbs) in hit {
            for skb in skbs {
                self.unix_del_edges(&s, &skb, true);
                self.skb_uncharge(&skb);
                for f in skb.fds {
                    self.fput(f);
                }
            }
        }
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
