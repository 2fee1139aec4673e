//! The fuzzer's seeded randomness: one small PRNG, so that a seed names
//! a run and every scenario of it.

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

/// The seed of scenario `n` of a run seeded with `seed`.
pub fn scenario_seed(seed: u64, n: u64) -> u64 {
    Rng::new(seed ^ n.wrapping_mul(0xd134_2543_de82_ef95)).next_u64()
}
