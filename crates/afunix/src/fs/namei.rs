//! The world's directory tree and path walk (`fs/namei.c`): directories,
//! regular files and socket files with owners and modes; every path is
//! walked component by component from the world's directory, with search
//! permission checked on every directory on the way (`may_lookup`).

use crate::errno::{Errno, SysResult};
use crate::net::unix::Sock;
use crate::process::Cred;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};

/// A node the walk holds vanished under it (`d_is_negative`): cannot
/// happen while the name table is locked, but is an errno, not a panic.
pub(crate) const GONE: crate::errno::Error =
    Errno::ENOENT.why(rule!(d_is_negative, "the inode was removed meanwhile"));

/// `MAY_EXEC`, `MAY_WRITE`, `MAY_READ`.
pub(crate) const MAY_EXEC: u32 = 1;
/// `MAY_WRITE`.
pub(crate) const MAY_WRITE: u32 = 2;
/// `MAY_READ`.
pub(crate) const MAY_READ: u32 = 4;

/// The inode number of the world's directory.
pub(crate) const ROOT_INO: u64 = 1;

/// What an inode is.
#[derive(Debug)]
pub(crate) enum NodeKind {
    /// A directory: name → inode.
    Dir(BTreeMap<Vec<u8>, u64>),
    /// A regular file: its bytes, shared by every open file of it.
    Reg(Arc<Mutex<crate::fs::shmem::Pages>>),
    /// A socket file, and the socket bound to it while that lives
    /// (`unix_find_socket_byinode`).
    Sock(Option<Weak<Sock>>),
}

/// An inode: mode bits, owner, and what it is.
#[derive(Debug)]
pub(crate) struct Node {
    /// Permission bits (`& 0o7777`).
    pub(crate) mode: u32,
    /// Owner uid.
    pub(crate) uid: u32,
    /// Owner gid.
    pub(crate) gid: u32,
    /// What it is.
    pub(crate) kind: NodeKind,
}

impl Node {
    pub(crate) fn is_dir(&self) -> bool {
        matches!(self.kind, NodeKind::Dir(_))
    }
}

/// The tree: inodes by number. An inode lives while a directory entry
/// names it (open files of a regular file keep its bytes, not its inode).
#[derive(Debug)]
pub(crate) struct Tree {
    pub(crate) nodes: HashMap<u64, Node>,
    next_ino: u64,
}

impl Default for Tree {
    fn default() -> Self {
        let mut nodes = HashMap::new();
        // The scenario's directory: root's, mode 0777, no sticky bit.
        nodes.insert(
            ROOT_INO,
            Node {
                mode: 0o777,
                uid: 0,
                gid: 0,
                kind: NodeKind::Dir(BTreeMap::new()),
            },
        );
        Tree {
            nodes,
            next_ino: ROOT_INO + 1,
        }
    }
}

/// `generic_permission` for `mask` (MAY_*): owner, group or other bits;
/// uid 0 has CAP_DAC_OVERRIDE (exec on a non-directory still needs an x bit).
/// Every caller refuses when it is false, so a refusal notes the values.
pub(crate) fn permission(node: &Node, cred: &Cred, mask: u32) -> bool {
    let (ok, class) = if cred.euid == 0 {
        (
            mask & MAY_EXEC == 0 || node.is_dir() || node.mode & 0o111 != 0,
            "root",
        )
    } else {
        let (bits, class) = if cred.euid == node.uid {
            (node.mode >> 6, "owner")
        } else if cred.egid == node.gid || cred.groups.contains(&node.gid) {
            (node.mode >> 3, "group")
        } else {
            (node.mode, "other")
        };
        (bits & mask == mask, class)
    };
    if !ok {
        crate::path::note(|| {
            let want: String = [(MAY_READ, 'r'), (MAY_WRITE, 'w'), (MAY_EXEC, 'x')]
                .iter()
                .filter(|(m, _)| mask & m != 0)
                .map(|&(_, c)| c)
                .collect();
            format!(
                "mode {:04o} of uid {} gid {}; euid {} egid {} ({class}) wants {want}",
                node.mode & 0o7777,
                node.uid,
                node.gid,
                cred.euid,
                cred.egid
            )
        });
    }
    ok
}

/// The last component of a path as `filename_parentat` leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Last {
    /// A name.
    Norm(Vec<u8>),
    /// `.` (or an empty path's end: the directory itself).
    Dot,
    /// `..`.
    DotDot,
}

/// Where a walk of everything but the last component ended.
#[derive(Debug)]
pub(crate) struct Parent {
    /// The directory holding the last component.
    pub(crate) dir: u64,
    /// The last component.
    pub(crate) last: Last,
    /// The path ended with `/` after the last component.
    pub(crate) trailing_slash: bool,
    /// The parent of `dir` (the root is its own), for a last `..`.
    pub(crate) up: u64,
}

/// A decision note on the last component of `path`.
pub(crate) fn note_last(path: &[u8], p: &Parent) {
    crate::path::note(|| {
        let last = match &p.last {
            Last::Norm(n) => String::from_utf8_lossy(n).into_owned(),
            Last::Dot => ".".into(),
            Last::DotDot => "..".into(),
        };
        let slash = if p.trailing_slash { ", trailing /" } else { "" };
        format!(
            "{:?}: last component {last:?}{slash}",
            String::from_utf8_lossy(path)
        )
    });
}

impl Tree {
    pub(crate) fn node(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    pub(crate) fn child(&self, dir: u64, name: &[u8]) -> Option<u64> {
        match &self.nodes.get(&dir)?.kind {
            NodeKind::Dir(d) => d.get(name).copied(),
            _ => None,
        }
    }

    /// `path_parentat` → `link_path_walk`: walk every component but the
    /// last, checking search permission on each directory (also on the
    /// one that holds the last component).
    pub(crate) fn walk_parent(&self, path: &[u8], cred: &Cred) -> SysResult<Parent> {
        if path.is_empty() {
            crate::path::note(|| "the path is \"\"".to_string());
            return Err(Errno::ENOENT.why(rule!(getname, "empty path")));
        }
        let trailing_slash = path.ends_with(b"/");
        let comps: Vec<&[u8]> = path
            .split(|c| *c == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        let mut cur = ROOT_INO;
        // The directories above `cur`, for `..`.
        let mut stack: Vec<u64> = Vec::new();
        let n = comps.len();
        let at = |i: usize| {
            crate::path::note(|| {
                let to: Vec<&[u8]> = comps[..i].to_vec();
                format!(
                    "{:?} at /{}",
                    String::from_utf8_lossy(path),
                    String::from_utf8_lossy(&to.join(&b'/'))
                )
            })
        };
        for (i, c) in comps.iter().enumerate() {
            let node = self
                .nodes
                .get(&cur)
                .ok_or(Errno::ENOENT.why(rule!(link_path_walk, "the directory is gone")))?;
            if !node.is_dir() {
                at(i);
                return Err(Errno::ENOTDIR.why(rule!(
                    link_path_walk,
                    "a component on the way is not a directory"
                )));
            }
            if !permission(node, cred, MAY_EXEC) {
                at(i);
                return Err(Errno::EACCES.why(rule!(
                    may_lookup,
                    "no search permission on a directory of the path"
                )));
            }
            if i + 1 == n {
                let last = match *c {
                    b"." => Last::Dot,
                    b".." => Last::DotDot,
                    name => Last::Norm(name.to_vec()),
                };
                return Ok(Parent {
                    dir: cur,
                    last,
                    trailing_slash,
                    up: stack.last().copied().unwrap_or(ROOT_INO),
                });
            }
            match *c {
                b"." => {}
                b".." => {
                    cur = stack.pop().unwrap_or(ROOT_INO);
                }
                name => {
                    let Some(next) = self.child(cur, name) else {
                        at(i + 1);
                        return Err(Errno::ENOENT.why(rule!(
                            walk_component,
                            "no such file or directory on the way"
                        )));
                    };
                    stack.push(cur);
                    cur = next;
                }
            }
        }
        // Only slashes: the directory itself.
        let node = self.nodes.get(&cur).ok_or(crate::fs::namei::GONE)?;
        if !permission(node, cred, MAY_EXEC) {
            return Err(Errno::EACCES.why(rule!(
                may_lookup,
                "no search permission on a directory of the path"
            )));
        }
        Ok(Parent {
            dir: cur,
            last: Last::Dot,
            trailing_slash,
            up: stack.last().copied().unwrap_or(ROOT_INO),
        })
    }

    /// The inode `parent.last` names, if any (`..` of the root is the root).
    pub(crate) fn lookup_last(&self, p: &Parent) -> Option<u64> {
        match &p.last {
            Last::Dot => Some(p.dir),
            Last::DotDot => Some(p.up),
            Last::Norm(name) => self.child(p.dir, name),
        }
    }

    /// `kern_path` (`path_lookupat`): the inode a path names, following
    /// the walk; a trailing `/` needs a directory.
    pub(crate) fn lookup(&self, path: &[u8], cred: &Cred) -> SysResult<u64> {
        let p = self.walk_parent(path, cred)?;
        let Some(ino) = self.lookup_last(&p) else {
            note_last(path, &p);
            return Err(Errno::ENOENT.why(rule!(lookup_last, "no such file or directory")));
        };
        if p.trailing_slash && !self.nodes.get(&ino).is_some_and(Node::is_dir) {
            note_last(path, &p);
            return Err(
                Errno::ENOTDIR.why(rule!(lookup_last, "a trailing / names a non-directory"))
            );
        }
        Ok(ino)
    }

    /// `filename_create`: the directory a new name goes in, after the
    /// checks the kernel makes before creating (`EEXIST` for any existing
    /// last component, `.` and `..` included; `ENOENT` for a trailing `/`
    /// unless a directory is made), then `may_create` (write and search
    /// permission on the directory).
    pub(crate) fn create_at(
        &self,
        path: &[u8],
        cred: &Cred,
        want_dir: bool,
    ) -> SysResult<(u64, Vec<u8>)> {
        let p = self.walk_parent(path, cred)?;
        let name = match &p.last {
            Last::Norm(n) => n.clone(),
            _ => {
                note_last(path, &p);
                return Err(
                    Errno::EEXIST.why(rule!(filename_create, "the last component is . or .."))
                );
            }
        };
        if self.child(p.dir, &name).is_some() {
            note_last(path, &p);
            return Err(Errno::EEXIST.why(rule!(filename_create, "the path exists")));
        }
        if p.trailing_slash && !want_dir {
            note_last(path, &p);
            return Err(
                Errno::ENOENT.why(rule!(filename_create, "a trailing / asks for a directory"))
            );
        }
        let dir = self.nodes.get(&p.dir).ok_or(crate::fs::namei::GONE)?;
        if !permission(dir, cred, MAY_WRITE | MAY_EXEC) {
            return Err(
                Errno::EACCES.why(rule!(may_create, "no write permission on the directory"))
            );
        }
        Ok((p.dir, name))
    }

    /// Add `node` as `name` in `dir`: its inode number.
    pub(crate) fn insert(&mut self, dir: u64, name: Vec<u8>, node: Node) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, node);
        if let Some(Node {
            kind: NodeKind::Dir(d),
            ..
        }) = self.nodes.get_mut(&dir)
        {
            d.insert(name, ino);
        }
        ino
    }

    /// Take the entry `name` out of `dir` (the inode stays, for a
    /// rename to put back): its number.
    pub(crate) fn take_entry(&mut self, dir: u64, name: &[u8]) -> Option<u64> {
        match &mut self.nodes.get_mut(&dir)?.kind {
            NodeKind::Dir(d) => d.remove(name),
            _ => None,
        }
    }

    /// Put `ino` in `dir` as `name`.
    pub(crate) fn put_entry(&mut self, dir: u64, name: Vec<u8>, ino: u64) {
        if let Some(Node {
            kind: NodeKind::Dir(d),
            ..
        }) = self.nodes.get_mut(&dir)
        {
            d.insert(name, ino);
        }
    }

    /// `vfs_unlink`: the entry goes, and with it the inode (no inode here
    /// has a second name).
    pub(crate) fn remove_entry(&mut self, dir: u64, name: &[u8]) -> Option<Node> {
        let ino = self.take_entry(dir, name)?;
        self.nodes.remove(&ino)
    }

    /// Whether `ino` is `dir` or below it.
    pub(crate) fn is_within(&self, ino: u64, dir: u64) -> bool {
        if ino == dir {
            return true;
        }
        let Some(Node {
            kind: NodeKind::Dir(d),
            ..
        }) = self.nodes.get(&dir)
        else {
            return false;
        };
        d.values().any(|&c| self.is_within(ino, c))
    }
}
