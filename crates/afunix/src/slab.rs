//! A small arena with stable indices: the model's objects (files, sockets,
//! pipes) refer to each other by index, and their lifetimes are kept by
//! explicit reference counts, as the kernel keeps them (`f_count`,
//! `sk_refcnt`), so every release happens at a known point.

/// An arena of `T` addressed by index.
#[derive(Debug)]
pub struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<usize>,
    live: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Store `value`, returning its index.
    pub fn insert(&mut self, value: T) -> usize {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            if let Some(slot) = self.items.get_mut(i) {
                *slot = Some(value);
                return i;
            }
        }
        self.items.push(Some(value));
        self.items.len() - 1
    }

    /// Remove and return the value at `i`.
    pub fn remove(&mut self, i: usize) -> Option<T> {
        let v = self.items.get_mut(i)?.take();
        if v.is_some() {
            self.live -= 1;
            self.free.push(i);
        }
        v
    }

    /// The value at `i`.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)?.as_ref()
    }

    /// The value at `i`, mutably.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i)?.as_mut()
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Every stored value with its index.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (i, v)))
    }
}
