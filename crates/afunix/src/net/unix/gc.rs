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
use crate::fs::file::{File, FileKind};
use crate::world::{lock, Kernel};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
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

/// A vertex's place in the collector's slab (`unix_sk(sk)->vertex`).
type Slot = u32;

/// `Sock::gc_vertex` of a socket that is not in flight (`vertex == NULL`).
pub(crate) const NO_VERTEX: Slot = Slot::MAX;

/// The vertex of `s`, if it is in flight (read under the collector's
/// lock, which is the only writer).
#[inline]
fn vertex_of(s: &Sock) -> Option<Slot> {
    let v = s.gc_vertex.load(Ordering::Relaxed);
    (v != NO_VERTEX).then_some(v)
}

/// One in-flight copy of a socket (`struct unix_edge`).
#[derive(Debug)]
struct Edge {
    /// The socket whose queue holds the copy (`edge->successor`).
    succ: Arc<Sock>,
    /// The message carrying it: (receiver id, message id).
    skb: (u64, u64),
}

/// A vertex's edges (`vertex->edges`), in the order they were added
/// (messages mostly leave in that order too: removal is from the front).
/// Most sockets are in flight once: the first edge is kept in the vertex,
/// and only a socket in flight several times allocates a queue, so that
/// walking an edge reads no other memory and freeing a vertex frees
/// nothing else.
#[derive(Debug)]
enum Edges {
    One(Edge),
    Many(VecDeque<Edge>),
}

impl Edges {
    fn push_back(&mut self, e: Edge) {
        match self {
            Edges::Many(q) if q.is_empty() => *self = Edges::One(e),
            Edges::Many(q) => q.push_back(e),
            Edges::One(_) => {
                let Edges::One(first) = std::mem::replace(self, Edges::Many(VecDeque::new()))
                else {
                    return;
                };
                *self = Edges::Many(VecDeque::from([first, e]));
            }
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&Edge> {
        match self {
            Edges::One(e) => (i == 0).then_some(e),
            Edges::Many(q) => q.get(i),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Edge> {
        let (one, many) = match self {
            Edges::One(e) => (Some(e), None),
            Edges::Many(q) => (None, Some(q.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    fn len(&self) -> usize {
        match self {
            Edges::One(_) => 1,
            Edges::Many(q) => q.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove(&mut self, pos: usize) -> Option<Edge> {
        match self {
            Edges::Many(q) => q.remove(pos),
            Edges::One(_) if pos != 0 => None,
            Edges::One(_) => match std::mem::replace(self, Edges::Many(VecDeque::new())) {
                Edges::One(e) => Some(e),
                Edges::Many(_) => None,
            },
        }
    }
}

/// One in-flight socket (`struct unix_vertex`).
#[derive(Debug)]
struct Vertex {
    /// The socket and its file. Strong references that keep no file
    /// open: a vertex exists only while a queued message holds the file
    /// (and it, the socket), and `f_count` is the file's own count; so a
    /// walk reads the count without an upgrade, as `unix_vertex_dead`
    /// reads `file_count(u->sk.sk_socket->file)` through plain pointers.
    sock: Arc<Sock>,
    file: Arc<File>,
    edges: Edges,
    index: u64,
    scc_index: u64,
    /// The vertices of its SCC from the last full walk (`scc_entry`
    /// ring), in DFS push order; a new vertex is alone.
    group: u64,
    /// When it went in flight (`seq` of its entries in the vertex lists:
    /// an entry of an earlier vertex in the same slot is stale).
    seq: u64,
    /// The walk that last finalised it.
    walked: u64,
    /// Its entry's index in `GcState::unvisited`.
    pos: usize,
}

/// The vertices of one SCC of the last full walk (`scc_entry` ring).
#[derive(Debug)]
struct Group {
    /// In DFS push order; a member that left is skipped when read.
    members: Vec<Slot>,
    /// Members still in flight.
    live: usize,
    /// The index of a member last found not dead (see `group_verdict`).
    witness: usize,
}

/// The in-flight graph and counters.
#[derive(Debug)]
pub struct GcState {
    /// The vertices, where each socket's `gc_vertex` says (the kernel
    /// allocates a `unix_vertex` and points the socket at it; a slab keeps
    /// them dense, so a walk of a large graph runs through memory in
    /// order rather than through a hash table). A freed slot is reused
    /// last-freed first, so runs stay reproducible.
    slab: Vec<Option<Vertex>>,
    /// Free slots of `slab`.
    free: Vec<Slot>,
    /// Vertices in the slab.
    nr_vertices: usize,
    /// `unix_unvisited_vertices`, in list order, as (vertex, seq). The
    /// kernel's list removes a vertex in O(1); here an entry whose vertex
    /// is gone, or came back with another `seq`, or was walked already in
    /// this walk, is skipped (and compacted away), which is as cheap.
    unvisited: Vec<(Slot, u64)>,
    /// SCC groups (rings) of two or more vertices by id; a member that
    /// left (or moved to another group) is skipped when the ring is read.
    /// A vertex alone (every new vertex, and most SCCs of a walk) is a
    /// group of its own with no entry here: its id is in the vertex
    /// only, so that a socket going in and out of flight costs no hash
    /// map insert and remove.
    groups: HashMap<u64, Group>,
    /// Groups that may have become dead since the last walk, each with
    /// the vertex that made it so (how a group with no entry in `groups`
    /// is found): a member was added, lost an edge, or kept only in-flight
    /// references. While the grouping holds, only these can change (see
    /// `walk_fast`).
    dirty: Vec<(u64, Slot)>,
    /// Groups found cyclic and not dead (`unix_graph_cyclic_sccs`).
    cyclic: HashSet<u64>,
    /// The next `Vertex::seq`.
    next_seq: u64,
    /// The current walk (`Vertex::walked`).
    epoch: u64,
    next_group: u64,
    /// Embryo id → listener, until accept (`unix_update_edges`).
    embryo_listener: HashMap<u64, Weak<Sock>>,
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
    /// Vertices the walks have looked at, in all (for the tests that show
    /// the collector's cost is linear).
    pub(crate) work: u64,
}

impl Default for GcState {
    fn default() -> Self {
        GcState {
            slab: Vec::new(),
            free: Vec::new(),
            nr_vertices: 0,
            unvisited: Vec::new(),
            groups: HashMap::default(),
            dirty: Vec::new(),
            cyclic: HashSet::default(),
            next_seq: 0,
            epoch: 0,
            next_group: 0,
            embryo_listener: HashMap::default(),
            tot_inflight: 0,
            unvisited_index: MARK1,
            grouped_index: MARK2,
            max_scc_index: 1 << 40,
            maybe_cyclic: false,
            grouped: false,
            walk: GcWalk::default(),
            work: 0,
        }
    }
}

impl GcState {
    /// Walk as `walk` from now on; the next run walks the whole graph
    /// again (the groups the old walk left are not trusted).
    pub(crate) fn set_walk(&mut self, walk: GcWalk) {
        self.walk = walk;
        self.grouped = false;
        self.maybe_cyclic = self.nr_vertices != 0;
    }

    #[inline]
    fn vx(&self, v: Slot) -> Option<&Vertex> {
        self.slab.get(v as usize).and_then(Option::as_ref)
    }

    #[inline]
    fn vx_mut(&mut self, v: Slot) -> Option<&mut Vertex> {
        self.slab.get_mut(v as usize).and_then(Option::as_mut)
    }

    /// `unix_edge_successor`: the vertex an edge leads to, if the
    /// receiver (or an embryo's listener) is itself in flight.
    #[inline]
    fn successor(&self, e: &Edge) -> Option<Slot> {
        if !self.embryo_listener.is_empty() {
            if let Some(l) = self.embryo_listener.get(&e.succ.id) {
                // A listener that is gone has no vertex either.
                return l.upgrade().and_then(|l| vertex_of(&l));
            }
        }
        vertex_of(&e.succ)
    }

    /// `unix_update_graph`: an edge into an in-flight socket changed.
    fn update_graph(&mut self, succ: Option<Slot>) {
        if succ.is_some() {
            self.maybe_cyclic = true;
            self.grouped = false;
        }
    }

    // unix_add_edge (with unix_add_vertex for a socket not yet in flight)
    fn add_edge(&mut self, pred: &Arc<Sock>, file: &Arc<File>, e: Edge) {
        let slot = match vertex_of(pred) {
            Some(slot) => slot,
            None => self.add_vertex(pred, file),
        };
        e.succ.gc_queued_fds.fetch_add(1, Ordering::Relaxed);
        let succ = self.successor(&e);
        if let Some(v) = self.vx_mut(slot) {
            v.edges.push_back(e);
        }
        self.update_graph(succ);
    }

    /// A vertex for `pred`, alone in a new group, at the tail of the
    /// unvisited list; returns its slot.
    fn add_vertex(&mut self, pred: &Arc<Sock>, file: &Arc<File>) -> Slot {
        self.max_scc_index += 1;
        let group = self.next_group;
        self.next_group += 1;
        self.next_seq += 1;
        let seq = self.next_seq;
        let vertex = Vertex {
            sock: Arc::clone(pred),
            file: Arc::clone(file),
            edges: Edges::Many(VecDeque::new()),
            index: self.unvisited_index,
            scc_index: self.max_scc_index,
            group,
            seq,
            walked: 0,
            pos: 0,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.slab.get_mut(slot as usize) {
                    *s = Some(vertex);
                }
                slot
            }
            None => {
                self.slab.push(Some(vertex));
                (self.slab.len() - 1) as Slot
            }
        };
        self.nr_vertices += 1;
        pred.gc_vertex.store(slot, Ordering::Relaxed);
        // Alone in its group (no entry in `groups`).
        self.dirty.push((group, slot));
        // list_add_tail(&vertex->entry, &unix_unvisited_vertices)
        if self.unvisited.len() > 2 * self.nr_vertices + 64 {
            let slab = &self.slab;
            self.unvisited.retain(|&(v, seq)| {
                slab.get(v as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|x| x.seq == seq)
            });
            self.renumber();
        }
        let pos = self.unvisited.len();
        if let Some(v) = self.vx_mut(slot) {
            v.pos = pos;
        }
        self.unvisited.push((slot, seq));
        slot
    }

    // unix_del_edge (with unix_free_vertices for a vertex left without)
    fn del_edge(&mut self, pred: &Sock, skb: (u64, u64), dead: bool) {
        let Some(slot) = vertex_of(pred) else {
            return;
        };
        let Some(v) = self.vx(slot) else {
            return;
        };
        let Some(pos) = v.edges.iter().position(|e| e.skb == skb) else {
            return;
        };
        if !dead {
            let succ = v.edges.get(pos).and_then(|e| self.successor(e));
            self.update_graph(succ);
        }
        let Some(v) = self.vx_mut(slot) else {
            return;
        };
        if let Some(e) = v.edges.remove(pos) {
            e.succ.gc_queued_fds.fetch_sub(1, Ordering::Relaxed);
        }
        let group = v.group;
        if v.edges.is_empty() {
            // list_del(&vertex->entry): its list entries go stale.
            if let Some(s) = self.slab.get_mut(slot as usize) {
                *s = None;
            }
            self.free.push(slot);
            self.nr_vertices -= 1;
            pred.gc_vertex.store(NO_VERTEX, Ordering::Relaxed);
            let gone = match self.groups.get_mut(&group) {
                Some(g) => {
                    g.live -= 1;
                    g.live == 0
                }
                // It was alone.
                None => true,
            };
            if gone {
                self.groups.remove(&group);
                self.cyclic.remove(&group);
                return;
            }
        }
        self.mark_dirty(group, slot);
    }

    /// Note that `group` (of the vertex `slot`) may have become dead.
    fn mark_dirty(&mut self, group: u64, slot: Slot) {
        self.dirty.push((group, slot));
        if self.dirty.len() > 2 * self.nr_vertices + 64 {
            self.dirty.sort_unstable_by_key(|d| d.0);
            self.dirty.dedup_by_key(|d| d.0);
        }
    }

    /// Each vertex's `pos` after the list changed.
    fn renumber(&mut self) {
        for (i, &(v, _)) in self.unvisited.iter().enumerate() {
            if let Some(x) = self.slab.get_mut(v as usize).and_then(Option::as_mut) {
                x.pos = i;
            }
        }
    }

    // unix_vertex_dead
    fn vertex_dead(&self, v: Slot) -> bool {
        let Some(vx) = self.vx(v) else {
            return false;
        };
        for e in vx.edges.iter() {
            let Some(n) = self.successor(e) else {
                return false;
            };
            if self.vx(n).map(|x| x.scc_index) != Some(vx.scc_index) {
                return false;
            }
        }
        let count = vx.file.count();
        count == vx.edges.len()
    }

    // unix_scc_cyclic
    fn scc_cyclic(&self, scc: &[Slot]) -> bool {
        match scc {
            [v] => self
                .vx(*v)
                .is_some_and(|x| x.edges.iter().any(|e| self.successor(e) == Some(*v))),
            _ => true,
        }
    }

    /// Finalise one SCC (push order, root first), regrouped as `group`:
    /// mark it visited, decide whether it is dead (and so to be purged).
    fn finalise(&mut self, scc: &[Slot], group: u64, visited: &mut Vec<(Slot, u64)>) -> bool {
        let mut dead = true;
        let (epoch, gi) = (self.epoch, self.grouped_index);
        for &v in scc {
            if let Some(x) = self.vx_mut(v) {
                x.walked = epoch;
                x.index = gi;
                visited.push((v, x.seq));
            }
            if dead {
                dead = self.vertex_dead(v);
            }
        }
        if !dead && self.scc_cyclic(scc) {
            self.cyclic.insert(group);
        }
        dead
    }

    // __unix_walk_scc: Tarjan's walk with the kernel's bookkeeping.
    fn walk_scc(
        &mut self,
        root: Slot,
        last_index: &mut u64,
        visited: &mut Vec<(Slot, u64)>,
        hit: &mut Vec<Vec<Slot>>,
    ) {
        let mut vstack: Vec<Slot> = Vec::new();
        // (predecessor, position of the edge taken) for backtracking.
        let mut estack: Vec<(Slot, usize)> = Vec::new();
        let mut v = root;
        'next_vertex: loop {
            vstack.push(v);
            self.work += 1;
            if let Some(x) = self.vx_mut(v) {
                x.index = *last_index;
                x.scc_index = *last_index;
            }
            *last_index += 1;
            let mut i = 0usize;
            loop {
                while let Some(e) = self.vx(v).and_then(|x| x.edges.get(i)) {
                    if let Some(n) = self.successor(e) {
                        let (n_index, n_scc) =
                            self.vx(n).map_or((0, 0), |x| (x.index, x.scc_index));
                        if n_index == self.unvisited_index {
                            estack.push((v, i));
                            v = n;
                            continue 'next_vertex;
                        } else if n_index != self.grouped_index {
                            // A back or cross edge to a vertex on the stack.
                            if let Some(x) = self.vx_mut(v) {
                                x.scc_index = x.scc_index.min(n_scc);
                            }
                        }
                    }
                    i += 1;
                }
                let (index, scc_index) = self.vx(v).map_or((0, 0), |x| (x.index, x.scc_index));
                if index == scc_index {
                    let at = vstack.iter().rposition(|&x| x == v).unwrap_or(0);
                    let scc: Vec<Slot> = vstack.split_off(at);
                    let group = self.next_group;
                    self.next_group += 1;
                    // (The old rings were dropped when the walk began.)
                    let fixed = self.walk == GcWalk::Fixed;
                    for &x in &scc {
                        if let Some(vx) = self.vx_mut(x) {
                            vx.group = group;
                            if fixed {
                                vx.scc_index = scc_index;
                            }
                        }
                    }
                    // (A vertex alone needs no entry: see `groups`.)
                    if scc.len() > 1 {
                        self.groups.insert(
                            group,
                            Group {
                                members: scc.clone(),
                                live: scc.len(),
                                witness: 0,
                            },
                        );
                    }
                    if self.finalise(&scc, group, visited) {
                        hit.push(scc);
                    }
                }
                // Backtrack: the edge to the current vertex, its ancestor.
                let Some((pred, pos)) = estack.pop() else {
                    return;
                };
                let child_scc = self.vx(v).map_or(u64::MAX, |x| x.scc_index);
                v = pred;
                if let Some(x) = self.vx_mut(v) {
                    x.scc_index = x.scc_index.min(child_scc);
                }
                i = pos + 1;
            }
        }
    }

    // unix_walk_scc
    fn walk_full(&mut self) -> Vec<Vec<Slot>> {
        let mut last_index = INDEX_START;
        let mut visited = Vec::with_capacity(self.nr_vertices);
        let mut hit = Vec::new();
        self.epoch += 1;
        // Every vertex is walked and regrouped: the old rings go.
        self.groups.clear();
        self.cyclic.clear();
        self.dirty.clear();
        let unvisited = std::mem::take(&mut self.unvisited);
        for &(root, seq) in &unvisited {
            // The first entry of the list that is still unvisited.
            let fresh = self
                .vx(root)
                .is_some_and(|v| v.seq == seq && v.walked != self.epoch);
            if fresh {
                self.walk_scc(root, &mut last_index, &mut visited, &mut hit);
            }
        }
        self.unvisited = visited;
        self.renumber();
        std::mem::swap(&mut self.unvisited_index, &mut self.grouped_index);
        self.grouped = true;
        self.maybe_cyclic = !self.cyclic.is_empty();
        hit
    }

    // unix_walk_scc_fast: the groups of the last full walk, as they are.
    //
    // The kernel visits every group in list order; a group's verdict can
    // only have changed if one of its members changed (no edge between
    // in-flight sockets changed, or the grouping would be gone), so only
    // the dirty groups are looked at, in list order, and the others keep
    // their verdict and place: the same dead SCCs, in the same order, the
    // same cyclic count, at a cost in what changed rather than in the
    // graph. (After a full walk the list holds each group contiguously,
    // in ring order, and a fast walk leaves it so.)
    fn walk_fast(&mut self) -> Vec<Vec<Slot>> {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable_by_key(|d| d.0);
        dirty.dedup_by_key(|d| d.0);
        // (position of the first member in the list, the SCC from it)
        let mut dead: Vec<(usize, Vec<Slot>)> = Vec::new();
        for (g, slot) in dirty {
            if self.group_verdict(g, slot) {
                if let Some(ring) = self.ring_in_list_order(g, slot) {
                    let pos = self.vx(ring[0]).map_or(usize::MAX, |x| x.pos);
                    dead.push((pos, ring));
                }
            }
        }
        dead.sort_unstable_by_key(|(pos, _)| *pos);
        self.maybe_cyclic = !self.cyclic.is_empty();
        dead.into_iter().map(|(_, scc)| scc).collect()
    }

    /// The members of group `g` (whose vertex `slot` was marked dirty),
    /// its witness and how many are live: its entry in `groups`, or the
    /// vertex alone if it still is that group.
    fn members<'a>(&'a self, g: u64, slot: &'a Slot) -> Option<(&'a [Slot], usize, usize)> {
        match self.groups.get(&g) {
            Some(group) => Some((&group.members, group.witness, group.live)),
            None => self.vx(*slot).is_some_and(|x| x.group == g).then_some((
                std::slice::from_ref(slot),
                0,
                1,
            )),
        }
    }

    /// Whether group `g` is dead (false when it has no member left), its
    /// cyclic verdict refreshed (`unix_graph_cyclic_sccs` counts only the
    /// live cyclic ones). A group that is not dead keeps a witness, a
    /// member that is not dead: looked at first, then the next ones, so
    /// closing the members of one big cycle one by one costs a step
    /// each, not a walk of the cycle.
    fn group_verdict(&mut self, g: u64, slot: Slot) -> bool {
        self.cyclic.remove(&g);
        let Some((members, start, live)) = self.members(g, &slot) else {
            return false;
        };
        let n = members.len();
        let member = |k: usize| members[(start + k) % n];
        let mut alive_at = None;
        let mut any = None;
        let mut looked = 0u64;
        for k in 0..n {
            looked += 1;
            let m = member(k);
            if self.vx(m).is_none_or(|x| x.group != g) {
                continue;
            }
            any = Some(m);
            if !self.vertex_dead(m) {
                alive_at = Some((start + k) % n);
                break;
            }
        }
        self.work += looked;
        let Some(one) = any else { return false };
        let Some(at) = alive_at else { return true };
        if let Some(group) = self.groups.get_mut(&g) {
            group.witness = at;
        }
        if live >= 2 || self.scc_cyclic(&[one]) {
            self.cyclic.insert(g);
        }
        false
    }

    /// The live members of `g` in ring order, from the one first in the
    /// list (the order a fast walk finalises them in).
    fn ring_in_list_order(&self, g: u64, slot: Slot) -> Option<Vec<Slot>> {
        let mut ring: Vec<Slot> = self
            .members(g, &slot)?
            .0
            .iter()
            .copied()
            .filter(|&m| self.vx(m).is_some_and(|x| x.group == g))
            .collect::<Vec<Slot>>();
        let at = ring
            .iter()
            .enumerate()
            .min_by_key(|&(_, &m)| self.vx(m).map_or(usize::MAX, |x| x.pos))
            .map(|(i, _)| i)?;
        ring.rotate_left(at);
        Some(ring)
    }
}

/// Up to this many in-flight sockets, a release collects at once.
const GC_EAGER_VERTICES: usize = 256;

thread_local! {
    /// (batches open on this thread, a collection was asked for in them).
    static GC_BATCH: Cell<(u32, bool)> = const { Cell::new((0, false)) };
    /// The collector's work is running on this thread.
    static IN_GC: Cell<bool> = const { Cell::new(false) };
}

impl Kernel {
    /// `unix_add_edges` (from `scm_stat_add`): a message carrying files is
    /// queued on `receiver` (whose lock the caller holds).
    /// Most messages carry no files: that check is inlined, the edges not.
    #[inline]
    pub(crate) fn unix_add_edges(&self, receiver: &Arc<Sock>, locked: &SockInner, skb: &Skb) {
        if !skb.fds.is_empty() {
            self.unix_add_edges_slow(receiver, locked, skb);
        }
    }

    #[inline(never)]
    fn unix_add_edges_slow(&self, receiver: &Arc<Sock>, _locked: &SockInner, skb: &Skb) {
        let mut gc = self.gc_lock();
        if let Some(user) = &skb.fp_user {
            user.add_inflight(skb.fds.len());
        }
        for f in skb.fds.iter() {
            if let FileKind::Socket(s) = &f.kind {
                gc.tot_inflight += 1;
                s.inflight.fetch_add(1, Ordering::SeqCst);
                gc.add_edge(
                    s,
                    f,
                    Edge {
                        succ: Arc::clone(receiver),
                        skb: (receiver.id, skb.id),
                    },
                );
            }
        }
    }

    /// `unix_del_edges`: a message carrying files left `receiver`'s queue
    /// (`dead`: purged by the collector, which changes no graph state).
    /// Most messages carry no files: that check is inlined, the edges not.
    #[inline]
    pub(crate) fn unix_del_edges(&self, receiver: &Sock, skb: &Skb, dead: bool) {
        if !skb.fds.is_empty() {
            self.unix_del_edges_fds(receiver, skb.id, skb.fp_user.as_deref(), &skb.fds, dead);
        }
    }

    /// `unix_del_edges` for the files of message `skb_id` of `receiver`,
    /// also when they leave a message that stays queued (a stream read
    /// that took them with part of its bytes: `unix_detach_fds`).
    #[inline(never)]
    pub(crate) fn unix_del_edges_fds(
        &self,
        receiver: &Sock,
        skb_id: u64,
        fp_user: Option<&crate::process::UserStruct>,
        fds: &[Arc<File>],
        dead: bool,
    ) {
        if fds.is_empty() {
            return;
        }
        let mut gc = self.gc_lock();
        if let Some(user) = fp_user {
            user.sub_inflight(fds.len());
        }
        for f in fds {
            if let FileKind::Socket(s) = &f.kind {
                gc.tot_inflight = gc.tot_inflight.saturating_sub(1);
                s.inflight.fetch_sub(1, Ordering::SeqCst);
                gc.del_edge(s, (receiver.id, skb_id), dead);
            }
        }
    }

    /// An embryo's edges lead to its listener until it is accepted.
    pub(crate) fn gc_note_embryo(&self, embryo: &Sock, listener: &Arc<Sock>) {
        self.gc_lock()
            .embryo_listener
            .insert(embryo.id, Arc::downgrade(listener));
    }

    /// `unix_update_edges`: the embryo was accepted (or dropped). If files
    /// are queued on it, their edges now lead elsewhere.
    pub(crate) fn gc_forget_embryo(&self, embryo: &Sock) {
        let mut gc = self.gc_lock();
        let Some(listener) = gc.embryo_listener.remove(&embryo.id) else {
            return;
        };
        // receiver->scm_stat.nr_fds
        if embryo.gc_queued_fds.load(Ordering::Relaxed) != 0 {
            let l = listener.upgrade().and_then(|l| vertex_of(&l));
            gc.update_graph(l);
        }
    }

    /// `fput` left only in-flight references to `s`'s file: its SCC may
    /// be garbage now (what the kernel's next walk would find).
    pub(crate) fn gc_only_inflight_left(&self, s: &Sock) {
        let mut gc = self.gc_lock();
        if let Some((g, v)) = vertex_of(s).and_then(|v| gc.vx(v).map(|x| (x.group, v))) {
            gc.mark_dirty(g, v);
        }
    }

    /// Run `f`, collecting once after it what its releases asked for
    /// (`unix_schedule_gc` → `queue_work`: requests made while the work
    /// is pending are one run). An `__fput` cascade and a process exit
    /// are batches.
    pub(crate) fn gc_batch<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Depth;
        impl Drop for Depth {
            fn drop(&mut self) {
                GC_BATCH.with(|b| b.set((b.get().0 - 1, b.get().1)));
            }
        }
        GC_BATCH.with(|b| b.set((b.get().0 + 1, b.get().1)));
        let r = {
            let _depth = Depth;
            f()
        };
        let run = GC_BATCH.with(|b| {
            let (depth, pending) = b.get();
            if depth == 0 && pending {
                b.set((0, false));
            }
            depth == 0 && pending
        });
        if run {
            self.queue_gc_work();
        }
        r
    }

    /// `unix_schedule_gc(NULL)` from `unix_release_sock`: collect when
    /// anything is in flight, once the current batch is over.
    pub(crate) fn unix_schedule_gc(&self) {
        let queued = GC_BATCH.with(|b| {
            let (depth, _) = b.get();
            if depth > 0 {
                b.set((depth, true));
            }
            depth > 0
        });
        if !queued {
            self.queue_gc_work();
        }
    }

    /// `queue_work(&unix_gc_work)`. The kernel's work runs soon, on another
    /// CPU, and requests made while it is pending are one run; what a
    /// program can see of it is only that garbage goes, some time after
    /// the close (the scenario language counts garbage only after `gc`).
    /// The model runs the work at once while the graph is small, so small
    /// worlds behave as before; in a big graph it runs it once as many
    /// releases have asked for it as there are in-flight sockets, so that
    /// closing n sockets costs O(n) and not n walks of the graph. A
    /// deferred run is done before anything counts sockets (`stat`,
    /// `gc`), and when a sender with many files in flight sends more
    /// (`unix_schedule_gc(user)` flushes the work then).
    fn queue_gc_work(&self) {
        let (inflight, vertices) = {
            let gc = self.gc_lock();
            (gc.tot_inflight, gc.nr_vertices)
        };
        if inflight == 0 {
            return;
        }
        // queue_work on the running work item: it runs again once this
        // run is over (the releases of the sockets a purge frees ask for
        // the run that finds what only those sockets' messages kept
        // alive), so one requested collection leaves nothing the kernel's
        // would have left.
        if IN_GC.with(Cell::get) {
            self.gc_requeued.store(true, Ordering::SeqCst);
            return;
        }
        let asked = self.gc_asked.fetch_add(1, Ordering::SeqCst) + 1;
        if vertices <= GC_EAGER_VERTICES || asked >= vertices {
            self.unix_gc();
        } else {
            self.gc_deferred.store(true, Ordering::SeqCst);
        }
    }

    /// Run a deferred collection now (see `queue_gc_work`).
    pub(crate) fn flush_gc_work(&self) {
        if self.gc_deferred.load(Ordering::SeqCst) {
            self.unix_gc();
        }
    }

    /// `unix_schedule_gc(fpl->user)` from `unix_prepare_fpl`: a user with
    /// `UNIX_INFLIGHT_SANE_USER` files in flight waits for the collector
    /// (`flush_work`) before sending more.
    pub(crate) fn unix_schedule_gc_for(&self, user: &crate::process::UserStruct) {
        const UNIX_INFLIGHT_SANE_USER: usize = crate::abi::consts::SCM_MAX_FD * 8;
        if !self.gc_deferred.load(Ordering::SeqCst) {
            return;
        }
        let flush = {
            let gc = self.gc_lock();
            // unix_graph_cyclic_sccs: the last walk found a cycle.
            !gc.cyclic.is_empty() && user.unix_inflight() >= UNIX_INFLIGHT_SANE_USER
        };
        if flush {
            self.unix_gc();
        }
    }

    /// `unix_gc`: the collector's work item. The kernel queues it
    /// (`unix_schedule_gc` → `queue_work`); a run requested while it runs
    /// — by the releases of the sockets it frees — runs again right after
    /// it, so collection goes on until nothing more is found. The model
    /// runs the work at once on the requesting thread, and a request made
    /// from inside a run marks the work for one more run.
    pub(crate) fn unix_gc(&self) {
        crate::path::step("unix_gc");
        if IN_GC.with(Cell::get) {
            self.gc_requeued
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return;
        }
        let _work = lock(&self.gc_work);
        self.gc_deferred.store(false, Ordering::SeqCst);
        self.gc_asked.store(0, Ordering::SeqCst);
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
            let mut gc = self.gc_lock();
            if !gc.maybe_cyclic {
                return;
            }
            let hit = if gc.grouped {
                gc.walk_fast()
            } else {
                gc.walk_full()
            };
            let dead: Vec<Arc<Sock>> = hit
                .into_iter()
                .flatten()
                .filter_map(|v| gc.vx(v).map(|x| Arc::clone(&x.sock)))
                .collect();
            // The purge frees the vertex of each: room for their slots at
            // once, rather than a free list grown (and copied) as it goes.
            gc.free.reserve(dead.len());
            dead
        };
        // unix_collect_skb: splice the queues (a listener's: its embryos').
        // (Each queue is taken whole, as `skb_queue_splice_init` moves it:
        // no copy, no allocation per socket.)
        // The dead SCCs are disjoint (a walk finalises a vertex once, a
        // fast walk reads each group's own members), so no socket is twice
        // in `dead`.
        debug_assert!({
            let mut ids: Vec<u64> = dead.iter().map(|s| s.id).collect();
            ids.sort_unstable();
            ids.windows(2).all(|w| w[0] != w[1])
        });
        let mut hit: Vec<(Arc<Sock>, VecDeque<Skb>)> = Vec::with_capacity(dead.len());
        for s in dead {
            let (skbs, embryos, listening) = {
                let mut g = s.lock();
                let listening = g.state == super::SockState::Listen;
                let skbs = if listening {
                    VecDeque::new()
                } else {
                    std::mem::take(&mut g.recvq)
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
                        std::mem::take(&mut g.recvq)
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
        let mut refs: HashMap<*const File, (Arc<File>, usize)> = HashMap::default();
        let mut inflight: HashMap<u32, usize> = HashMap::default();
        let procs = self.procs.all();
        for p in procs {
            for (_, e) in p.fd_table().iter() {
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
                for f in skb.fds.iter() {
                    refs.entry(Arc::as_ptr(f))
                        .or_insert_with(|| (Arc::clone(f), 0))
                        .1 += 1;
                }
                if let Some(u) = skb.fp_user.as_ref().filter(|_| !skb.fds.is_empty()) {
                    *inflight.entry(u.uid).or_default() += skb.fds.len();
                }
            }
        }
        // Each user's unix_inflight is what its queued messages carry.
        for (uid, u) in crate::world::lock(&self.users).iter() {
            let Some(u) = u.upgrade() else { continue };
            let queued = inflight.get(uid).copied().unwrap_or(0);
            if u.unix_inflight() != queued {
                return Err(format!(
                    "uid {uid} has unix_inflight {} but its queued messages carry {queued} files",
                    u.unix_inflight()
                ));
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

#[cfg(test)]
mod tests {
    use crate::abi::consts::SOCK_DGRAM;
    use crate::{TaskSpec, World};

    fn root(w: &World) -> crate::Pid {
        w.spawn(&TaskSpec {
            uid: 0,
            gid: 0,
            groups: vec![0],
            nofile: 1 << 16,
            ..TaskSpec::default()
        })
    }

    fn work(w: &World) -> u64 {
        crate::world::lock(&w.kernel().gc).work
    }

    /// `n` pairs; each `a` sends the next pair's `b`; then every fd is
    /// closed, each close a release that asks for a collection.
    fn ring_closed_at_the_end(n: usize) -> (u64, usize) {
        let w = World::new();
        let p = root(&w);
        let pairs: Vec<_> = (0..n)
            .map(|_| w.socketpair(p, SOCK_DGRAM).unwrap())
            .collect();
        for i in 0..n {
            w.send_with_fds(p, pairs[i][0], b"", &[pairs[(i + 1) % n][1]])
                .unwrap();
        }
        for [a, b] in pairs {
            w.close(p, a).unwrap();
            w.close(p, b).unwrap();
        }
        w.gc();
        (work(&w), w.socket_objects())
    }

    /// A ring of `n` pairs built one pair at a time, fds closed as they
    /// are sent; with `keep_one`, a copy of one member's fd stays open
    /// (returned).
    fn ring_as_built(w: &World, p: crate::Pid, n: usize, keep_one: bool) -> Option<crate::Fd> {
        let [mut prev, b0] = w.socketpair(p, SOCK_DGRAM).unwrap();
        let kept = keep_one.then(|| w.dup(p, b0).unwrap());
        for _ in 1..n {
            let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
            w.send_with_fds(p, prev, b"", &[b]).unwrap();
            w.close(p, prev).unwrap();
            w.close(p, b).unwrap();
            prev = a;
        }
        w.send_with_fds(p, prev, b"", &[b0]).unwrap();
        w.close(p, prev).unwrap();
        w.close(p, b0).unwrap();
        kept
    }

    /// The same ring built one pair at a time, fds closed as they are sent.
    fn ring_closed_as_built(n: usize) -> (u64, usize) {
        let w = World::new();
        let p = root(&w);
        ring_as_built(&w, p, n, false);
        w.gc();
        (work(&w), w.socket_objects())
    }

    /// A requested collection goes on until nothing more is found, as the
    /// kernel's work item runs again when the releases of what it freed
    /// queue it: here a ring above the eager threshold (whose releases
    /// would otherwise only be counted) is dead only once the socket
    /// holding one of its members, a cycle of its own, is purged.
    #[test]
    fn one_collection_frees_what_its_purge_made_dead() {
        let w = World::with_gc_walk(super::GcWalk::Fixed);
        let p = root(&w);
        let member = ring_as_built(&w, p, 2 * super::GC_EAGER_VERTICES, true).unwrap();
        // r1's queue holds r1 itself and a member of the ring.
        let [r0, r1] = w.socketpair(p, SOCK_DGRAM).unwrap();
        w.send_with_fds(p, r0, b"", &[r1, member]).unwrap();
        for fd in [r0, r1, member] {
            w.close(p, fd).unwrap();
        }
        w.gc();
        // Counted without `socket_objects`, which would run deferred work.
        assert_eq!(w.kernel().all_socks().len(), 0);
        w.check_invariants().unwrap();
    }

    /// The collector's work grows linearly with the graph, where a walk
    /// per release would grow with its square: counted in vertices looked
    /// at (not timed), beyond the eager threshold's fixed cost.
    #[test]
    fn collecting_a_ring_costs_linear_work() {
        let fixed = (super::GC_EAGER_VERTICES * super::GC_EAGER_VERTICES) as u64;
        for build in [ring_closed_at_the_end, ring_closed_as_built] {
            for n in [2_000usize, 16_000] {
                let (work, left) = build(n);
                assert_eq!(left, 0, "the ring of {n} was collected");
                assert!(
                    work <= 8 * n as u64 + fixed,
                    "{work} vertices looked at for a ring of {n}"
                );
            }
        }
    }
}
