//! The project's seeded randomness: one small PRNG, so that a seed names a
//! run. The fuzzer's scenario generator (`afunix fuzz`), the multi-threaded
//! stress test and the fuzz harnesses draw from it, each stream derived with
//! [`stream_seed`]; a seed printed by any of them reproduces it.
//!
//! Not the model's own randomness: a world's `SKF_AD_RANDOM` has its own
//! generator (`abi::filter::Prandom`), seeded per world, so that what a
//! harness draws never shifts what a filter sees.

/// splitmix64: a small, fast, deterministic PRNG.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u32) -> bool {
        self.below(100) < pct as usize
    }

    /// The first element of `(item, weight)` pairs drawn with probability
    /// weight / total: one draw of `below(total)` walked over the running
    /// sums, so a table in the order of the old ranges draws the same.
    pub fn weighted<T: Copy>(&mut self, table: &[(T, usize)]) -> T {
        let total = table.iter().map(|&(_, w)| w).sum();
        let mut r = self.below(total);
        for &(item, w) in table {
            if r < w {
                return item;
            }
            r -= w;
        }
        // Unreachable for a table with a non-zero total: the last item.
        table[table.len() - 1].0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The seed of stream `n` of a run seeded with `seed`: scenario `n` of a
/// fuzz run, thread `n` of the stress test. Streams of one seed do not
/// repeat each other's sequences, and each is reproduced by `(seed, n)`.
pub fn stream_seed(seed: u64, n: u64) -> u64 {
    Rng::new(seed ^ n.wrapping_mul(0xd134_2543_de82_ef95)).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_a_sequence() {
        let a: Vec<u64> = (0..8)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..8)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        // splitmix64's published first output for seed 0.
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_ne!(stream_seed(7, 0), stream_seed(7, 1));
    }

    #[test]
    fn weighted_draws_in_proportion() {
        let mut r = Rng::new(1);
        let mut n = [0usize; 3];
        for _ in 0..100_000 {
            n[r.weighted(&[(0, 1), (1, 0), (2, 3)])] += 1;
        }
        assert_eq!(n[1], 0, "a zero weight is never drawn");
        assert!((23_000..27_000).contains(&n[0]), "{n:?}");
        assert_eq!(r.below(0), 0);
    }
}
