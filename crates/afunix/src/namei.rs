//! The world's directory tree and path walk (`fs/namei.c`): inodes of
//! directories, regular files and socket files, `link_path_walk`,
//! `generic_permission`, and the parent walk of the creating calls
//! (`filename_create`, `filename_parentat`).

use crate::errno::{Errno, SysResult};
use crate::net::unix::Sock;
use crate::process::Cred;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};

/// The inode number of the world's directory (every process's cwd).
pub const ROOT_INO: u64 = 1;
/// `MAY_EXEC`.
pub const MAY_EXEC: u32 = 1;
/// `MAY_WRITE`.
pub const MAY_WRITE: u32 = 2;
/// `MAY_READ`.
pub const MAY_READ: u32 = 4;
/// The largest regular file of the world (`s_maxbytes` of its file
/// system): a write past it is `EFBIG`, so memory stays bounded.
pub const MAX_FILE_SIZE: usize = 16 << 20;

/// What an inode is (`S_IFMT` with its content).
#[derive(Debug)]
pub enum InodeKind {
    /// `S_IFDIR`: entries (name → inode number) and the parent.
    Dir {
        /// `d_subdirs`.
        entries: BTreeMap<Vec<u8>, u64>,
        /// `..` (the root is its own parent).
        parent: u64,
    },
    /// `S_IFREG`: the bytes, shared by every open file of the inode.
    Reg(Arc<Mutex<Vec<u8>>>),
    /// `S_IFSOCK`: the socket bound to it while it lives
    /// (`unix_find_socket_byinode`).
    Sock(Option<Weak<Sock>>),
}

/// An inode of the world.
#[derive(Debug)]
pub struct Inode {
    /// `i_mode & 07777`.
    pub mode: u32,
    /// `i_uid`.
    pub uid: u32,
    /// `i_gid`.
    pub gid: u32,
    /// The type and content.
    pub kind: InodeKind,
}

impl Inode {
    /// `S_ISDIR`.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, InodeKind::Dir { .. })
    }
}

/// The type of the last component (`nd->last_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastType {
    /// A name.
    Norm,
    /// `.`.
    Dot,
    /// `..`.
    DotDot,
    /// No component at all (an empty path or only slashes).
    Root,
}

/// The result of a parent walk (`filename_parentat`).
#[derive(Debug)]
pub struct Parent {
    /// The directory holding the last component.
    pub dir: u64,
    /// The last component's bytes.
    pub last: Vec<u8>,
    /// Its type.
    pub ty: LastType,
    /// A `/` followed the last component (`last.name[last.len]`).
    pub trailing: bool,
}

/// The tree: every inode by number, and each bound socket's inode.
#[derive(Debug)]
pub struct Tree {
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    /// `u->path`: socket id → the inode it was bound to (O(1) unhash).
    pub(crate) sock_inode: HashMap<u64, u64>,
}

impl Default for Tree {
    fn default() -> Tree {
        let mut inodes = HashMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                mode: 0o777,
                uid: 0,
                gid: 0,
                kind: InodeKind::Dir {
                    entries: BTreeMap::new(),
                    parent: ROOT_INO,
                },
            },
        );
        Tree {
            inodes,
            next_ino: ROOT_INO + 1,
            sock_inode: HashMap::new(),
        }
    }
}

/// `generic_permission` (with `acl_permission_check` and the capability
/// overrides): uid 0 has CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH.
pub fn permission(cred: &Cred, inode: &Inode, mask: u32) -> bool {
    let bits = if cred.euid == inode.uid {
        inode.mode >> 6
    } else if cred.egid == inode.gid || cred.groups.contains(&inode.gid) {
        inode.mode >> 3
    } else {
        inode.mode
    };
    if bits & mask & 7 == mask & 7 {
        return true;
    }
    if cred.euid != 0 {
        return false;
    }
    // CAP_DAC_OVERRIDE: everything on a directory; on a file, exec only
    // if some x bit is set.
    inode.is_dir() || mask & MAY_EXEC == 0 || inode.mode & 0o111 != 0
}

/// `in_group_or_capable` for the setgid bit (CAP_FSETID for uid 0).
pub fn in_group_or_capable(cred: &Cred, gid: u32) -> bool {
    cred.euid == 0 || cred.egid == gid || cred.groups.contains(&gid)
}

impl Tree {
    /// The inode with this number.
    pub fn get(&self, ino: u64) -> Option<&Inode> {
        self.inodes.get(&ino)
    }

    /// The inode with this number, to change it.
    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Inode> {
        self.inodes.get_mut(&ino)
    }

    fn inode(&self, ino: u64) -> SysResult<&Inode> {
        self.inodes
            .get(&ino)
            .ok_or(Errno::ENOENT.why("d_is_negative: the inode is gone"))
    }

    /// A child of directory `dir` (`lookup_one_qstr_excl`, `.`/`..` handled).
    fn step(&self, dir: u64, name: &[u8]) -> Option<u64> {
        match &self.inodes.get(&dir)?.kind {
            InodeKind::Dir { entries, parent } => match name {
                b"." => Some(dir),
                b".." => Some(*parent),
                _ => entries.get(name).copied(),
            },
            _ => None,
        }
    }

    /// `link_path_walk` up to the last component: `may_lookup` (MAY_EXEC)
    /// on every directory walked, including the last one's parent;
    /// `ENOENT` for a missing component; `ENOTDIR` for a non-directory in
    /// the middle.
    pub fn parentat(&self, cred: &Cred, path: &[u8]) -> SysResult<Parent> {
        let comps: Vec<&[u8]> = path
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        let trailing = path.last() == Some(&b'/');
        let mut cur = ROOT_INO;
        if comps.is_empty() {
            return Ok(Parent {
                dir: cur,
                last: Vec::new(),
                ty: LastType::Root,
                trailing,
            });
        }
        for (i, c) in comps.iter().enumerate() {
            if !permission(cred, self.inode(cur)?, MAY_EXEC) {
                return Err(Errno::EACCES.why("may_lookup: no search permission on a directory"));
            }
            if i + 1 == comps.len() {
                let ty = match *c {
                    b"." => LastType::Dot,
                    b".." => LastType::DotDot,
                    _ => LastType::Norm,
                };
                return Ok(Parent {
                    dir: cur,
                    last: c.to_vec(),
                    ty,
                    trailing,
                });
            }
            cur = self
                .step(cur, c)
                .ok_or(Errno::ENOENT.why("walk_component: no such file or directory"))?;
            if !self.inode(cur)?.is_dir() {
                return Err(Errno::ENOTDIR.why("link_path_walk: a component is not a directory"));
            }
        }
        unreachable!("the loop returns at the last component")
    }

    /// The last component of a parent walk (`lookup_last`): `None` when
    /// the name does not exist.
    pub fn last(&self, p: &Parent) -> Option<u64> {
        match p.ty {
            LastType::Root => Some(p.dir),
            _ => self.step(p.dir, &p.last),
        }
    }

    /// `path_lookupat`: the inode a path names (`ENOENT`; `ENOTDIR` for a
    /// trailing `/` on a non-directory, as `LOOKUP_DIRECTORY` asks).
    pub fn lookup(&self, cred: &Cred, path: &[u8], want_dir: bool) -> SysResult<u64> {
        if path.is_empty() {
            return Err(Errno::ENOENT.why("getname: empty path"));
        }
        let p = self.parentat(cred, path)?;
        let ino = self
            .last(&p)
            .ok_or(Errno::ENOENT.why("lookup_last: no such file or directory"))?;
        if (p.trailing || want_dir) && !self.inode(ino)?.is_dir() {
            return Err(Errno::ENOTDIR.why("path_lookupat: LOOKUP_DIRECTORY on a non-directory"));
        }
        Ok(ino)
    }

    /// `filename_create`: the parent directory and the new name; `EEXIST`
    /// for `.`, `..`, no name, or a name that exists; `ENOENT` for a
    /// trailing `/` when no directory is made.
    pub fn create_parent(&self, cred: &Cred, path: &[u8], want_dir: bool) -> SysResult<Parent> {
        if path.is_empty() {
            return Err(Errno::ENOENT.why("getname: empty path"));
        }
        let p = self.parentat(cred, path)?;
        if p.ty != LastType::Norm {
            return Err(Errno::EEXIST.why("filename_create: last component is . or .."));
        }
        if self.step(p.dir, &p.last).is_some() {
            return Err(Errno::EEXIST.why("lookup_one_qstr_excl: the name exists"));
        }
        if p.trailing && !want_dir {
            return Err(Errno::ENOENT.why("filename_create: trailing / on a new non-directory"));
        }
        Ok(p)
    }

    /// `may_create`: MAY_WRITE | MAY_EXEC on the parent directory.
    pub fn may_create(&self, cred: &Cred, dir: u64) -> SysResult<()> {
        if permission(cred, self.inode(dir)?, MAY_WRITE | MAY_EXEC) {
            Ok(())
        } else {
            Err(Errno::EACCES.why("may_create: no write permission on the directory"))
        }
    }

    /// Add a new inode named `name` in `dir` (`vfs_mknod`, `vfs_mkdir`,
    /// `vfs_create`).
    pub fn insert(&mut self, dir: u64, name: &[u8], inode: Inode) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        let inode = match inode.kind {
            InodeKind::Dir { entries, .. } => Inode {
                kind: InodeKind::Dir {
                    entries,
                    parent: dir,
                },
                ..inode
            },
            _ => inode,
        };
        self.inodes.insert(ino, inode);
        if let Some(Inode {
            kind: InodeKind::Dir { entries, .. },
            ..
        }) = self.inodes.get_mut(&dir)
        {
            entries.insert(name.to_vec(), ino);
        }
        ino
    }

    /// Remove entry `name` of `dir`; the inode goes with its only link
    /// (open files keep their content through their own handle).
    pub fn remove_entry(&mut self, dir: u64, name: &[u8]) -> Option<u64> {
        let ino = match self.inodes.get_mut(&dir) {
            Some(Inode {
                kind: InodeKind::Dir { entries, .. },
                ..
            }) => entries.remove(name)?,
            _ => return None,
        };
        self.inodes.remove(&ino);
        Some(ino)
    }

    /// `may_delete`: the victim exists, MAY_WRITE | MAY_EXEC on its
    /// directory, then `ENOTDIR`/`EISDIR` against what the caller removes.
    pub fn may_delete(&self, cred: &Cred, dir: u64, victim: u64, isdir: bool) -> SysResult<()> {
        let v = self.inode(victim)?;
        if !permission(cred, self.inode(dir)?, MAY_WRITE | MAY_EXEC) {
            return Err(Errno::EACCES.why("may_delete: no write permission on the directory"));
        }
        if isdir && !v.is_dir() {
            return Err(Errno::ENOTDIR.why("may_delete: not a directory"));
        }
        if !isdir && v.is_dir() {
            return Err(Errno::EISDIR.why("may_delete: a directory"));
        }
        Ok(())
    }

    /// Whether `a` is `b` or one of its ancestors (the rename trap).
    pub fn is_ancestor(&self, a: u64, mut b: u64) -> bool {
        loop {
            if a == b {
                return true;
            }
            match self.inodes.get(&b).map(|i| &i.kind) {
                Some(InodeKind::Dir { parent, .. }) if *parent != b => b = *parent,
                _ => return false,
            }
        }
    }

    /// `rename`'s move of an entry: `old` in `odir` becomes `new` in
    /// `ndir`, replacing (and dropping) what `new` named.
    pub fn move_entry(&mut self, odir: u64, old: &[u8], ndir: u64, new: &[u8]) {
        let Some(ino) = (match self.inodes.get_mut(&odir) {
            Some(Inode {
                kind: InodeKind::Dir { entries, .. },
                ..
            }) => entries.remove(old),
            _ => None,
        }) else {
            return;
        };
        self.remove_entry(ndir, new);
        if let Some(Inode {
            kind: InodeKind::Dir { entries, .. },
            ..
        }) = self.inodes.get_mut(&ndir)
        {
            entries.insert(new.to_vec(), ino);
        }
        if let Some(Inode {
            kind: InodeKind::Dir { parent, .. },
            ..
        }) = self.inodes.get_mut(&ino)
        {
            *parent = ndir;
        }
    }

    /// Whether a directory has no entries.
    pub fn is_empty_dir(&self, ino: u64) -> bool {
        matches!(self.inodes.get(&ino), Some(Inode { kind: InodeKind::Dir { entries, .. }, .. }) if entries.is_empty())
    }
}
