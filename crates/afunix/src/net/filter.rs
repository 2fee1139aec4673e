//! Classic BPF socket filters (`net/core/filter.c`): `struct sock_filter {
//! u16 code; u8 jt; u8 jf; u32 k; }` (8 bytes), the checks `SO_ATTACH_FILTER`
//! runs on a program (`bpf_check_classic`, `check_load_and_stores`), and an
//! interpreter with the semantics the kernel gives a classic program after
//! `bpf_convert_filter` (on a unix skb, the packet is the payload), beside
//! the socket code that runs it (`sk_filter_trim_cap`). The wire types are
//! also `afunix::abi::filter`'s.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::abi::{u16_at, u32_at};
use crate::Errno;

/// `sizeof(struct sock_filter)`.
pub const SOCK_FILTER_SIZE: usize = 8;
/// `BPF_MAXINSNS`.
pub const BPF_MAXINSNS: usize = 4096;
/// `BPF_MEMWORDS`: scratch memory cells.
pub const BPF_MEMWORDS: u32 = 16;

/// Instruction classes (`BPF_CLASS(code)`).
pub const BPF_LD: u16 = 0x00;
/// `BPF_LDX`.
pub const BPF_LDX: u16 = 0x01;
/// `BPF_ST`.
pub const BPF_ST: u16 = 0x02;
/// `BPF_STX`.
pub const BPF_STX: u16 = 0x03;
/// `BPF_ALU`.
pub const BPF_ALU: u16 = 0x04;
/// `BPF_JMP`.
pub const BPF_JMP: u16 = 0x05;
/// `BPF_RET`.
pub const BPF_RET: u16 = 0x06;
/// `BPF_MISC`.
pub const BPF_MISC: u16 = 0x07;

/// Load sizes (`BPF_SIZE(code)`): word.
pub const BPF_W: u16 = 0x00;
/// Half word.
pub const BPF_H: u16 = 0x08;
/// Byte.
pub const BPF_B: u16 = 0x10;

/// Load modes (`BPF_MODE(code)`): immediate.
pub const BPF_IMM: u16 = 0x00;
/// Packet at absolute offset `k`.
pub const BPF_ABS: u16 = 0x20;
/// Packet at offset `X + k`.
pub const BPF_IND: u16 = 0x40;
/// Scratch memory cell `k`.
pub const BPF_MEM: u16 = 0x60;
/// Packet length.
pub const BPF_LEN: u16 = 0x80;
/// `4 * (P[k] & 0xf)` (IP header length).
pub const BPF_MSH: u16 = 0xa0;

/// ALU operations (`BPF_OP(code)`).
pub const BPF_ADD: u16 = 0x00;
/// Subtract.
pub const BPF_SUB: u16 = 0x10;
/// Multiply.
pub const BPF_MUL: u16 = 0x20;
/// Divide.
pub const BPF_DIV: u16 = 0x30;
/// Or.
pub const BPF_OR: u16 = 0x40;
/// And.
pub const BPF_AND: u16 = 0x50;
/// Left shift.
pub const BPF_LSH: u16 = 0x60;
/// Right shift.
pub const BPF_RSH: u16 = 0x70;
/// Negate.
pub const BPF_NEG: u16 = 0x80;
/// Modulo.
pub const BPF_MOD: u16 = 0x90;
/// Exclusive or.
pub const BPF_XOR: u16 = 0xa0;

/// Jump operations: always.
pub const BPF_JA: u16 = 0x00;
/// Jump if equal.
pub const BPF_JEQ: u16 = 0x10;
/// Jump if greater (unsigned).
pub const BPF_JGT: u16 = 0x20;
/// Jump if greater or equal (unsigned).
pub const BPF_JGE: u16 = 0x30;
/// Jump if any bit set.
pub const BPF_JSET: u16 = 0x40;

/// Operand source: the constant `k`.
pub const BPF_K: u16 = 0x00;
/// Operand source: `X`.
pub const BPF_X: u16 = 0x08;
/// `BPF_RET` source: `A`.
pub const BPF_A: u16 = 0x10;

/// `BPF_MISC` operation: `X = A`.
pub const BPF_TAX: u16 = 0x00;
/// `BPF_MISC` operation: `A = X`.
pub const BPF_TXA: u16 = 0x80;

/// `SKF_AD_OFF`: base of the ancillary-data offsets (as a `u32`, `-0x1000`).
pub const SKF_AD_OFF: u32 = 0xffff_f000;
/// `SKF_NET_OFF`: loads relative to the network header (`-0x100000`).
pub const SKF_NET_OFF: u32 = 0xfff0_0000;
/// `SKF_LL_OFF`: loads relative to the link-layer header (`-0x200000`).
pub const SKF_LL_OFF: u32 = 0xffe0_0000;

/// Ancillary loads (`k = SKF_AD_OFF + SKF_AD_*`).
pub const SKF_AD_PROTOCOL: u32 = 0;
/// `skb->pkt_type`.
pub const SKF_AD_PKTTYPE: u32 = 4;
/// `skb->dev->ifindex`.
pub const SKF_AD_IFINDEX: u32 = 8;
/// Netlink attribute lookup.
pub const SKF_AD_NLATTR: u32 = 12;
/// Nested netlink attribute lookup.
pub const SKF_AD_NLATTR_NEST: u32 = 16;
/// `skb->mark`.
pub const SKF_AD_MARK: u32 = 20;
/// `skb->queue_mapping`.
pub const SKF_AD_QUEUE: u32 = 24;
/// `skb->dev->type`.
pub const SKF_AD_HATYPE: u32 = 28;
/// `skb->hash`.
pub const SKF_AD_RXHASH: u32 = 32;
/// The current CPU.
pub const SKF_AD_CPU: u32 = 36;
/// `A ^= X`.
pub const SKF_AD_ALU_XOR_X: u32 = 40;
/// `skb->vlan_tci`.
pub const SKF_AD_VLAN_TAG: u32 = 44;
/// Whether a VLAN tag is present.
pub const SKF_AD_VLAN_TAG_PRESENT: u32 = 48;
/// Payload offset (flow dissector).
pub const SKF_AD_PAY_OFFSET: u32 = 52;
/// A random number.
pub const SKF_AD_RANDOM: u32 = 56;
/// `skb->vlan_proto`.
pub const SKF_AD_VLAN_TPID: u32 = 60;

/// One classic BPF instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Generic field (constant, offset, cell index).
    pub k: u32,
}

impl SockFilter {
    /// Read one instruction from the first 8 bytes of `b`.
    pub fn parse(b: &[u8]) -> Option<SockFilter> {
        Some(SockFilter {
            code: u16_at(b, 0)?,
            jt: *b.get(2)?,
            jf: *b.get(3)?,
            k: u32_at(b, 4)?,
        })
    }

    /// The 8 bytes of this instruction.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[0..2].copy_from_slice(&self.code.to_le_bytes());
        out[2] = self.jt;
        out[3] = self.jf;
        out[4..8].copy_from_slice(&self.k.to_le_bytes());
        out
    }

    /// A statement (`BPF_STMT`).
    pub const fn stmt(code: u16, k: u32) -> SockFilter {
        SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A jump (`BPF_JUMP`).
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }
}

/// A validated classic BPF program (what `SO_ATTACH_FILTER` accepted).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Program {
    insns: Vec<SockFilter>,
}

/// The whole opcodes the checker and the interpreter name, as the kernel
/// writes them (`BPF_LD | BPF_W | BPF_ABS`).
mod op {
    use super::*;
    pub const LD_W_ABS: u16 = BPF_LD | BPF_W | BPF_ABS;
    pub const LD_H_ABS: u16 = BPF_LD | BPF_H | BPF_ABS;
    pub const LD_B_ABS: u16 = BPF_LD | BPF_B | BPF_ABS;
    pub const LD_W_IND: u16 = BPF_LD | BPF_W | BPF_IND;
    pub const LD_H_IND: u16 = BPF_LD | BPF_H | BPF_IND;
    pub const LD_B_IND: u16 = BPF_LD | BPF_B | BPF_IND;
    pub const LD_W_LEN: u16 = BPF_LD | BPF_W | BPF_LEN;
    pub const LD_IMM: u16 = BPF_LD | BPF_IMM;
    pub const LD_MEM: u16 = BPF_LD | BPF_MEM;
    pub const LDX_W_LEN: u16 = BPF_LDX | BPF_W | BPF_LEN;
    pub const LDX_B_MSH: u16 = BPF_LDX | BPF_B | BPF_MSH;
    pub const LDX_IMM: u16 = BPF_LDX | BPF_IMM;
    pub const LDX_MEM: u16 = BPF_LDX | BPF_MEM;
    pub const ST: u16 = BPF_ST;
    pub const STX: u16 = BPF_STX;
    pub const ALU_NEG: u16 = BPF_ALU | BPF_NEG;
    pub const JMP_JA: u16 = BPF_JMP | BPF_JA;
    pub const RET_K: u16 = BPF_RET | BPF_K;
    pub const RET_A: u16 = BPF_RET | BPF_A;
    pub const MISC_TAX: u16 = BPF_MISC | BPF_TAX;
    pub const MISC_TXA: u16 = BPF_MISC | BPF_TXA;
}

// chk_code_allowed
/// Whether `code` is one of the opcodes a classic socket filter may use.
fn code_allowed(code: u16) -> bool {
    const ALU_OPS: [u16; 10] = [
        BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH,
    ];
    const JMP_OPS: [u16; 4] = [BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET];
    if ALU_OPS
        .iter()
        .any(|&op| code == BPF_ALU | op | BPF_K || code == BPF_ALU | op | BPF_X)
    {
        return true;
    }
    if JMP_OPS
        .iter()
        .any(|&op| code == BPF_JMP | op | BPF_K || code == BPF_JMP | op | BPF_X)
    {
        return true;
    }
    use op::*;
    matches!(
        code,
        ALU_NEG
            | LD_W_ABS
            | LD_H_ABS
            | LD_B_ABS
            | LD_W_IND
            | LD_H_IND
            | LD_B_IND
            | LD_W_LEN
            | LD_IMM
            | LD_MEM
            | LDX_W_LEN
            | LDX_B_MSH
            | LDX_IMM
            | LDX_MEM
            | ST
            | STX
            | MISC_TAX
            | MISC_TXA
            | RET_K
            | RET_A
            | JMP_JA
    )
}

/// Whether `code` is a conditional jump.
fn is_cond_jump(code: u16) -> bool {
    code & 0x07 == BPF_JMP && code != BPF_JMP | BPF_JA
}

// bpf_anc_helper
/// Whether `k` names an ancillary load the kernel knows (`SKF_AD_OFF + SKF_AD_*`).
fn known_ancillary(k: u32) -> bool {
    k.checked_sub(SKF_AD_OFF)
        .is_some_and(|off| off < 64 && off % 4 == 0)
}

// bpf_check_classic
fn check_classic(insns: &[SockFilter]) -> Result<(), crate::errno::Error> {
    let flen = insns.len();
    for (pc, f) in insns.iter().enumerate() {
        check_insn(pc, f, flen).inspect_err(|_| {
            crate::path::note(|| {
                format!(
                    "instruction {pc} of {flen}: code {:#06x} jt {} jf {} k {:#x}",
                    f.code, f.jt, f.jf, f.k
                )
            })
        })?;
    }
    match insns.last() {
        Some(last) if last.code == BPF_RET | BPF_K || last.code == BPF_RET | BPF_A => {}
        last => {
            crate::path::note(|| match last {
                Some(l) => format!("instruction {} of {flen}: code {:#06x}", flen - 1, l.code),
                None => "no instructions".to_string(),
            });
            return Err(
                Errno::EINVAL.why(rule!(bpf_check_classic, "last instruction is not a RET"))
            );
        }
    }
    check_load_and_stores(insns)
}

/// One instruction of `bpf_check_classic`'s loop.
fn check_insn(pc: usize, f: &SockFilter, flen: usize) -> Result<(), crate::errno::Error> {
    if !code_allowed(f.code) {
        return Err(Errno::EINVAL.why(rule!(
            bpf_check_classic,
            "opcode not allowed in a socket filter"
        )));
    }
    let code = f.code;
    if code == BPF_ALU | BPF_DIV | BPF_K || code == BPF_ALU | BPF_MOD | BPF_K {
        if f.k == 0 {
            return Err(Errno::EINVAL.why(rule!(bpf_check_classic, "division by constant 0")));
        }
    } else if code == BPF_ALU | BPF_LSH | BPF_K || code == BPF_ALU | BPF_RSH | BPF_K {
        if f.k >= 32 {
            return Err(Errno::EINVAL.why(rule!(bpf_check_classic, "shift by constant >= 32")));
        }
    } else if matches!(code, op::LD_MEM | op::LDX_MEM | op::ST | op::STX) {
        if f.k >= BPF_MEMWORDS {
            return Err(Errno::EINVAL.why(rule!(
                bpf_check_classic,
                "scratch memory index >= BPF_MEMWORDS"
            )));
        }
    } else if code == BPF_JMP | BPF_JA {
        // flen - pc - 1 >= 0 since pc < flen.
        if u64::from(f.k) >= (flen - pc - 1) as u64 {
            return Err(
                Errno::EINVAL.why(rule!(bpf_check_classic, "ja past the end of the program"))
            );
        }
    } else if is_cond_jump(code) {
        if pc + usize::from(f.jt) + 1 >= flen || pc + usize::from(f.jf) + 1 >= flen {
            return Err(
                Errno::EINVAL.why(rule!(bpf_check_classic, "conditional jump past the end"))
            );
        }
    } else if matches!(code, op::LD_W_ABS | op::LD_H_ABS | op::LD_B_ABS)
        && f.k >= SKF_AD_OFF
        && !known_ancillary(f.k)
    {
        return Err(Errno::EINVAL.why(rule!(bpf_check_classic, "unknown ancillary load")));
    }
    Ok(())
}

// check_load_and_stores
/// Every path to a scratch-memory load must store that cell first.
fn check_load_and_stores(insns: &[SockFilter]) -> Result<(), crate::errno::Error> {
    let mut masks = vec![u16::MAX; insns.len()];
    let mut valid: u16 = 0;
    let merge = |masks: &mut [u16], target: usize, v: u16| {
        if let Some(m) = masks.get_mut(target) {
            *m &= v;
        }
    };
    for (pc, f) in insns.iter().enumerate() {
        valid &= masks.get(pc).copied().unwrap_or(u16::MAX);
        let bit = 1u16.checked_shl(f.k).unwrap_or(0);
        match f.code {
            op::ST | op::STX => valid |= bit,
            op::LD_MEM | op::LDX_MEM if valid & bit == 0 => {
                return Err(Errno::EINVAL.why(rule!(
                    check_load_and_stores,
                    "load of an unwritten scratch cell"
                )));
            }
            c if c == BPF_JMP | BPF_JA => {
                let t = usize::try_from(f.k)
                    .ok()
                    .and_then(|k| (pc + 1).checked_add(k));
                if let Some(t) = t {
                    merge(&mut masks, t, valid);
                }
                valid = u16::MAX;
            }
            c if is_cond_jump(c) => {
                merge(&mut masks, pc + 1 + usize::from(f.jt), valid);
                merge(&mut masks, pc + 1 + usize::from(f.jf), valid);
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The source of `SKF_AD_RANDOM` (the kernel's `bpf_user_rnd_u32`, a
/// per-cpu prandom): a seeded xorshift32, one per world, so that two worlds
/// never share a sequence and a run is reproduced by its seed.
#[derive(Debug)]
pub(crate) struct Prandom(AtomicU32);

impl Prandom {
    /// A generator seeded with `seed` (0 is replaced: xorshift needs a
    /// nonzero state).
    pub fn new(seed: u32) -> Prandom {
        Prandom(AtomicU32::new(if seed == 0 { 0x2545_f491 } else { seed }))
    }

    /// Start again from `seed`.
    pub fn reseed(&self, seed: u32) {
        self.0.store(
            if seed == 0 { 0x2545_f491 } else { seed },
            Ordering::Relaxed,
        );
    }

    /// The next number.
    pub fn next_u32(&self) -> u32 {
        let step = |mut x: u32| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let prev = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
            .unwrap_or_else(|x| x);
        step(prev)
    }
}

impl Default for Prandom {
    fn default() -> Prandom {
        Prandom::new(0)
    }
}

/// `struct nlattr` header size.
const NLA_HDRLEN: usize = 4;

// nla_find
/// Offset in `p` of the first netlink attribute of type `ty` in `p[start..end]`.
fn nla_find(p: &[u8], start: usize, end: usize, ty: u32) -> Option<usize> {
    let mut off = start;
    loop {
        let rem = end.checked_sub(off)?;
        let len = usize::from(u16_at(p, off)?);
        // nla_ok
        if rem < NLA_HDRLEN || len < NLA_HDRLEN || len > rem {
            return None;
        }
        let nla_type = u16_at(p, off + 2)? & 0x3fff; // NLA_TYPE_MASK
        if u32::from(nla_type) == ty {
            return Some(off);
        }
        off = off.checked_add((len + 3) & !3)?; // NLA_ALIGN
    }
}

/// A packet load: `Some(value)` or `None` when out of bounds (the program returns 0).
// bpf_skb_load_helper_{8,16,32} + bpf_internal_load_pointer_neg_helper
fn load(p: &[u8], off: i32, size: usize) -> Option<u32> {
    let start = if off >= 0 {
        usize::try_from(off).ok()?
    } else {
        let k = off as u32;
        if k >= SKF_NET_OFF {
            // A unix skb's network header is its head, where the payload starts.
            usize::try_from(k - SKF_NET_OFF).ok()?
        } else {
            // The mac header of a unix skb was never set; below SKF_LL_OFF is nothing.
            return None;
        }
    };
    let b = p.get(start..start.checked_add(size)?)?;
    Some(b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)))
}

fn size_of(code: u16) -> usize {
    match code & 0x18 {
        BPF_H => 2,
        BPF_B => 1,
        _ => 4,
    }
}

/// `bpf_check_basics_ok`: a program of `n` instructions has at least one
/// and at most `BPF_MAXINSNS`.
fn check_basics(n: usize) -> Result<(), crate::errno::Error> {
    if n == 0 || n > BPF_MAXINSNS {
        crate::path::note(|| format!("{n} instructions (BPF_MAXINSNS {BPF_MAXINSNS})"));
        return Err(Errno::EINVAL.why(rule!(bpf_check_basics_ok, "len == 0 or > BPF_MAXINSNS")));
    }
    Ok(())
}

impl Program {
    // sk_attach_filter -> __get_filter -> bpf_check_basics_ok, bpf_check_classic
    /// Parse and validate as `SO_ATTACH_FILTER` does: bytes not a multiple of
    /// 8, 0 instructions, or more than `BPF_MAXINSNS` give `EINVAL`; so do
    /// opcodes a socket filter may not use, jumps past the end, division or
    /// modulo by constant 0, constant shifts >= 32, scratch cells >= 16,
    /// unknown ancillary loads, a last instruction that is not `RET`, and
    /// loads of scratch cells not stored on every path (`check_load_and_stores`).
    ///
    /// Not modelled: `bpf_convert_filter` rejecting a program whose jumps
    /// span more than 32767 eBPF instructions after expansion (only possible
    /// near `BPF_MAXINSNS` with many packet loads), and the `optmem_max`
    /// charge (`ENOMEM`), which is the socket's business.
    ///
    /// # Errors
    /// `EINVAL`, with the checker's rule (`bpf_check_classic`,
    /// `bpf_check_basics_ok`, `check_load_and_stores`).
    pub fn parse(bytes: &[u8]) -> Result<Program, crate::errno::Error> {
        if !bytes.len().is_multiple_of(SOCK_FILTER_SIZE) {
            crate::path::note(|| format!("{} bytes: not a multiple of 8", bytes.len()));
            return Err(Errno::EINVAL.why(rule!(
                sk_attach_filter,
                "program bytes not a multiple of sizeof(sock_filter)"
            )));
        }
        // Before the instructions are copied out.
        check_basics(bytes.len() / SOCK_FILTER_SIZE)?;
        let insns: Vec<SockFilter> = bytes
            .chunks_exact(SOCK_FILTER_SIZE)
            .filter_map(SockFilter::parse)
            .collect();
        Program::from_instructions(insns)
    }

    /// Validate a program given as instructions (same rules as [`parse`](Self::parse)).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_instructions(insns: Vec<SockFilter>) -> Result<Program, crate::errno::Error> {
        check_basics(insns.len())?;
        check_classic(&insns)?;
        Ok(Program { insns })
    }

    /// Number of instructions (what `SO_GET_FILTER` reports with a 0-length buffer).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Always false for a validated program (it has at least one instruction).
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The instructions.
    pub fn instructions(&self) -> &[SockFilter] {
        &self.insns
    }

    /// The program as the bytes `SO_GET_FILTER` copies out.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.insns.iter().flat_map(|f| f.to_bytes()).collect()
    }

    // __bpf_prog_run on the program bpf_convert_filter made
    /// Run the program on `packet` (for a unix socket, the payload) and
    /// return its result. Semantics are those of the converted program:
    /// A and X start at 0; 32-bit unsigned arithmetic; division or modulo
    /// by `X == 0` returns 0; shifts by `X` use `X & 31`; an out-of-bounds
    /// packet load (including `MSH`) returns 0.
    ///
    /// Negative offsets: `SKF_NET_OFF + n` reads payload byte `n` (a unix
    /// skb's network header is the start of its data); `SKF_LL_OFF + n` and
    /// below return 0 (no mac header). Ancillary loads for a unix skb (no
    /// device, no VLAN, no mark, protocol 0, `PACKET_HOST`): `PROTOCOL`,
    /// `PKTTYPE`, `MARK`, `QUEUE`, `RXHASH`, `VLAN_*`, `PAY_OFFSET`, `CPU` load
    /// 0; `IFINDEX`/`HATYPE` end the program returning the current A (the
    /// converted code exits when `skb->dev` is NULL); `ALU_XOR_X` is
    /// `A ^= X`; `NLATTR`/`NLATTR_NEST` search netlink attributes in the
    /// payload as the kernel does; `RANDOM` draws from `random` (the
    /// world's seeded generator; not the kernel's sequence).
    ///
    /// `SKF_AD_RANDOM` draws from a generator seeded with 1 for this run
    /// alone; inside a world it draws from the world's.
    pub fn run(&self, packet: &[u8]) -> u32 {
        self.run_with(packet, &Prandom::new(1))
    }

    /// [`Program::run`] drawing `SKF_AD_RANDOM` from `random`.
    pub(crate) fn run_with(&self, packet: &[u8], random: &Prandom) -> u32 {
        use op::*;
        let mut a: u32 = 0;
        let mut x: u32 = 0;
        let mut mem = [0u32; BPF_MEMWORDS as usize];
        let plen = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let mut pc = 0usize;
        // Jumps only go forward, so this loop runs at most len() times.
        while let Some(f) = self.insns.get(pc) {
            pc += 1;
            let k = f.k;
            let cell = usize::try_from(k).ok().and_then(|i| mem.get(i).copied());
            match f.code {
                // Loads into A.
                LD_W_ABS | LD_H_ABS | LD_B_ABS if k >= SKF_AD_OFF => match k - SKF_AD_OFF {
                    SKF_AD_IFINDEX | SKF_AD_HATYPE => return a,
                    SKF_AD_ALU_XOR_X => a ^= x,
                    SKF_AD_NLATTR => a = nlattr(packet, a, x, false),
                    SKF_AD_NLATTR_NEST => a = nlattr(packet, a, x, true),
                    SKF_AD_RANDOM => a = random.next_u32(),
                    _ => a = 0,
                },
                LD_W_ABS | LD_H_ABS | LD_B_ABS => match load(packet, k as i32, size_of(f.code)) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_W_IND | LD_H_IND | LD_B_IND => {
                    match load(packet, x.wrapping_add(k) as i32, size_of(f.code)) {
                        Some(v) => a = v,
                        None => return 0,
                    }
                }
                LD_W_LEN => a = plen,
                LD_IMM => a = k,
                LD_MEM => a = cell.unwrap_or(0),
                // Loads into X.
                LDX_W_LEN => x = plen,
                LDX_IMM => x = k,
                LDX_MEM => x = cell.unwrap_or(0),
                LDX_B_MSH => match load(packet, k as i32, 1) {
                    Some(v) => x = (v & 0xf) << 2,
                    None => return 0,
                },
                // Stores.
                ST | STX => {
                    let v = if f.code == ST { a } else { x };
                    if let Some(m) = usize::try_from(k).ok().and_then(|i| mem.get_mut(i)) {
                        *m = v;
                    }
                }
                // ALU.
                c if c & 0x07 == BPF_ALU => {
                    let src = if c & BPF_X != 0 { x } else { k };
                    a = match c & 0xf0 {
                        BPF_ADD => a.wrapping_add(src),
                        BPF_SUB => a.wrapping_sub(src),
                        BPF_MUL => a.wrapping_mul(src),
                        BPF_DIV | BPF_MOD if src == 0 => return 0,
                        BPF_DIV => a / src,
                        BPF_MOD => a % src,
                        BPF_OR => a | src,
                        BPF_AND => a & src,
                        BPF_XOR => a ^ src,
                        BPF_LSH => a << (src & 31),
                        BPF_RSH => a >> (src & 31),
                        BPF_NEG => a.wrapping_neg(),
                        _ => return 0,
                    };
                }
                // Jumps.
                JMP_JA => {
                    pc = match usize::try_from(k).ok().and_then(|k| pc.checked_add(k)) {
                        Some(t) => t,
                        None => return 0,
                    };
                }
                c if c & 0x07 == BPF_JMP => {
                    let src = if c & BPF_X != 0 { x } else { k };
                    let taken = match c & 0xf0 {
                        BPF_JEQ => a == src,
                        BPF_JGT => a > src,
                        BPF_JGE => a >= src,
                        BPF_JSET => a & src != 0,
                        _ => return 0,
                    };
                    pc += usize::from(if taken { f.jt } else { f.jf });
                }
                // Return.
                RET_K => return k,
                RET_A => return a,
                // Misc.
                MISC_TAX => x = a,
                MISC_TXA => a = x,
                _ => return 0,
            }
        }
        // Unreachable for a validated program (it ends in RET).
        0
    }
}

// bpf_skb_get_nlattr / bpf_skb_get_nlattr_nest
fn nlattr(p: &[u8], a: u32, x: u32, nested: bool) -> u32 {
    let len = p.len();
    let Ok(a) = usize::try_from(a) else { return 0 };
    if len < NLA_HDRLEN || a > len - NLA_HDRLEN {
        return 0;
    }
    let found = if nested {
        let Some(outer) = u16_at(p, a).map(usize::from) else {
            return 0;
        };
        if outer > len - a {
            return 0;
        }
        // nla_find_nested: search the payload of the attribute at a.
        if outer < NLA_HDRLEN {
            return 0;
        }
        nla_find(p, a + NLA_HDRLEN, a + outer, x)
    } else {
        nla_find(p, a, len, x)
    };
    found.and_then(|o| u32::try_from(o).ok()).unwrap_or(0)
}

// sk_filter_trim_cap
/// What `sk_filter` does with a packet: a result of 0 drops it (`None`;
/// unix dgram sendmsg then reports success without queueing), any other
/// result keeps `min(result, len)` bytes (`pskb_trim`).
pub(crate) fn filter_verdict(prog: &Program, packet: &[u8], random: &Prandom) -> Option<usize> {
    match prog.run_with(packet, random) {
        0 => None,
        r => Some(usize::try_from(r).map_or(packet.len(), |r| r.min(packet.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prog(insns: &[SockFilter]) -> Result<Program, crate::errno::Error> {
        let bytes: Vec<u8> = insns.iter().flat_map(|f| f.to_bytes()).collect();
        Program::parse(&bytes)
    }

    fn st(code: u16, k: u32) -> SockFilter {
        SockFilter::stmt(code, k)
    }

    const RET_K: u16 = BPF_RET | BPF_K;
    const RET_A: u16 = BPF_RET | BPF_A;

    /// The program of scenario 19_bpf_drop_long.scn, as recorded.
    const DROP_LONG: &str = "80000000000000002500000103000000060000000000000006000000ffffffff";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn scenario_19_drop_long() {
        let p = Program::parse(&unhex(DROP_LONG)).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(
            p.instructions()[1],
            SockFilter::jump(BPF_JMP | BPF_JGT | BPF_K, 3, 0, 1)
        );
        assert_eq!(filter_verdict(&p, b"abc", &Prandom::default()), Some(3));
        assert_eq!(filter_verdict(&p, b"abcd", &Prandom::default()), None);
        assert_eq!(filter_verdict(&p, b"ok", &Prandom::default()), Some(2));
        assert_eq!(p.to_bytes(), unhex(DROP_LONG));
    }

    #[test]
    fn basic_rejections() {
        assert_eq!(Program::parse(&[]), Err(Errno::EINVAL.into()));
        assert_eq!(Program::parse(&[0; 7]), Err(Errno::EINVAL.into()));
        let too_long = vec![st(RET_K, 0); BPF_MAXINSNS + 1];
        assert_eq!(prog(&too_long), Err(Errno::EINVAL.into()));
        let max = vec![st(RET_K, 0); BPF_MAXINSNS];
        assert!(prog(&max).is_ok());
        // Unknown opcode, e.g. BPF_LD | BPF_H | BPF_IMM, BPF_LDX | BPF_W | BPF_ABS.
        assert_eq!(
            prog(&[st(0x08, 0), st(RET_K, 0)]),
            Err(Errno::EINVAL.into())
        );
        assert_eq!(
            prog(&[st(0x21, 0), st(RET_K, 0)]),
            Err(Errno::EINVAL.into())
        );
        // Not ending in RET.
        assert_eq!(
            prog(&[st(RET_K, 0), st(BPF_LD | BPF_IMM, 1)]),
            Err(Errno::EINVAL.into())
        );
    }

    #[test]
    fn arithmetic_rejections() {
        for code in [BPF_ALU | BPF_DIV | BPF_K, BPF_ALU | BPF_MOD | BPF_K] {
            assert_eq!(
                prog(&[st(code, 0), st(RET_A, 0)]),
                Err(Errno::EINVAL.into())
            );
            assert!(prog(&[st(code, 1), st(RET_A, 0)]).is_ok());
        }
        for code in [BPF_ALU | BPF_LSH | BPF_K, BPF_ALU | BPF_RSH | BPF_K] {
            assert_eq!(
                prog(&[st(code, 32), st(RET_A, 0)]),
                Err(Errno::EINVAL.into())
            );
            assert!(prog(&[st(code, 31), st(RET_A, 0)]).is_ok());
        }
    }

    #[test]
    fn jump_rejections() {
        let ja = BPF_JMP | BPF_JA;
        assert_eq!(prog(&[st(ja, 1), st(RET_K, 0)]), Err(Errno::EINVAL.into()));
        assert!(prog(&[st(ja, 0), st(RET_K, 0)]).is_ok());
        assert_eq!(
            prog(&[st(ja, u32::MAX), st(RET_K, 0)]),
            Err(Errno::EINVAL.into())
        );
        let jeq = BPF_JMP | BPF_JEQ | BPF_K;
        assert_eq!(
            prog(&[SockFilter::jump(jeq, 0, 0, 1), st(RET_K, 0)]),
            Err(Errno::EINVAL.into())
        );
        assert_eq!(
            prog(&[SockFilter::jump(jeq, 0, 1, 0), st(RET_K, 0)]),
            Err(Errno::EINVAL.into())
        );
        assert!(prog(&[SockFilter::jump(jeq, 0, 0, 0), st(RET_K, 0)]).is_ok());
    }

    #[test]
    fn memory_rejections() {
        let ld_mem = BPF_LD | BPF_MEM;
        assert_eq!(
            prog(&[st(BPF_ST, 16), st(RET_K, 0)]),
            Err(Errno::EINVAL.into())
        );
        assert_eq!(
            prog(&[st(ld_mem, 3), st(RET_A, 0)]),
            Err(Errno::EINVAL.into())
        );
        assert!(prog(&[st(BPF_ST, 3), st(ld_mem, 3), st(RET_A, 0)]).is_ok());
        // Stored on one branch only: rejected.
        let jeq = BPF_JMP | BPF_JEQ | BPF_K;
        let one_branch = [
            SockFilter::jump(jeq, 0, 0, 1),
            st(BPF_STX, 2),
            st(BPF_LDX | BPF_MEM, 2),
            st(RET_A, 0),
        ];
        assert_eq!(prog(&one_branch), Err(Errno::EINVAL.into()));
        // Stored before the branch: fine.
        let both = [
            st(BPF_ST, 2),
            SockFilter::jump(jeq, 0, 0, 1),
            st(BPF_LD | BPF_IMM, 1),
            st(BPF_LDX | BPF_MEM, 2),
            st(RET_A, 0),
        ];
        assert!(prog(&both).is_ok());
    }

    #[test]
    fn ancillary_checks() {
        let ld = BPF_LD | BPF_W | BPF_ABS;
        assert!(prog(&[st(ld, SKF_AD_OFF + SKF_AD_PROTOCOL), st(RET_A, 0)]).is_ok());
        assert!(prog(&[st(ld, SKF_AD_OFF + SKF_AD_VLAN_TPID), st(RET_A, 0)]).is_ok());
        assert_eq!(
            prog(&[st(ld, SKF_AD_OFF + 64), st(RET_A, 0)]),
            Err(Errno::EINVAL.into())
        );
        assert_eq!(
            prog(&[st(ld, SKF_AD_OFF + 1), st(RET_A, 0)]),
            Err(Errno::EINVAL.into())
        );
        // SKF_NET_OFF is below SKF_AD_OFF: accepted.
        assert!(prog(&[st(ld, SKF_NET_OFF), st(RET_A, 0)]).is_ok());
    }

    #[test]
    fn runs_loads_and_alu() {
        let p = prog(&[
            st(BPF_LD | BPF_H | BPF_ABS, 1), // A = be16(P[1..3])
            st(BPF_ALU | BPF_ADD | BPF_K, 1),
            st(RET_A, 0),
        ])
        .unwrap();
        assert_eq!(p.run_with(&[0, 1, 2, 3], &Prandom::default()), 0x0102 + 1);
        assert_eq!(
            p.run_with(&[0, 1], &Prandom::default()),
            0,
            "out of bounds load returns 0"
        );
        let ind = prog(&[
            st(BPF_LDX | BPF_IMM, 2),
            st(BPF_LD | BPF_B | BPF_IND, 1),
            st(RET_A, 0),
        ])
        .unwrap();
        assert_eq!(ind.run_with(b"abcd", &Prandom::default()), u32::from(b'd'));
        let msh = prog(&[
            st(BPF_LDX | BPF_B | BPF_MSH, 0),
            st(BPF_MISC | BPF_TXA, 0),
            st(RET_A, 0),
        ])
        .unwrap();
        assert_eq!(msh.run_with(&[0x45], &Prandom::default()), 20);
        let div = prog(&[
            st(BPF_LD | BPF_IMM, 7),
            st(BPF_ALU | BPF_DIV | BPF_X, 0),
            st(RET_K, 9),
        ])
        .unwrap();
        assert_eq!(
            div.run_with(b"", &Prandom::default()),
            0,
            "division by X == 0 returns 0"
        );
        let m = prog(&[
            st(BPF_LD | BPF_IMM, 17),
            st(BPF_ALU | BPF_MOD | BPF_K, 5),
            st(BPF_ALU | BPF_XOR | BPF_K, 0xff),
            st(BPF_ALU | BPF_NEG, 0),
            st(RET_A, 0),
        ])
        .unwrap();
        assert_eq!(
            m.run_with(b"", &Prandom::default()),
            (2u32 ^ 0xff).wrapping_neg()
        );
    }

    #[test]
    fn ancillary_runs() {
        let ld = BPF_LD | BPF_W | BPF_ABS;
        let ifx = prog(&[
            st(BPF_LD | BPF_IMM, 77),
            st(ld, SKF_AD_OFF + SKF_AD_IFINDEX),
            st(RET_K, 5),
        ])
        .unwrap();
        assert_eq!(
            ifx.run_with(b"x", &Prandom::default()),
            77,
            "no skb->dev: exit with A"
        );
        let net = prog(&[st(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF + 1), st(RET_A, 0)]).unwrap();
        assert_eq!(net.run_with(b"ab", &Prandom::default()), u32::from(b'b'));
        let ll = prog(&[st(BPF_LD | BPF_B | BPF_ABS, SKF_LL_OFF), st(RET_K, 1)]).unwrap();
        assert_eq!(ll.run_with(b"ab", &Prandom::default()), 0);
        // nlattr: attrs {len 5, type 1, "x"} pad, {len 8, type 2, u32}
        let mut pkt = vec![5, 0, 1, 0, b'x', 0, 0, 0];
        pkt.extend_from_slice(&[8, 0, 2, 0, 1, 2, 3, 4]);
        let nl = prog(&[
            st(BPF_LDX | BPF_IMM, 2),
            st(ld, SKF_AD_OFF + SKF_AD_NLATTR),
            st(RET_A, 0),
        ])
        .unwrap();
        assert_eq!(nl.run_with(&pkt, &Prandom::default()), 8);
        let nl3 = prog(&[
            st(BPF_LDX | BPF_IMM, 3),
            st(ld, SKF_AD_OFF + SKF_AD_NLATTR),
            st(RET_A, 0),
        ])
        .unwrap();
        assert_eq!(nl3.run_with(&pkt, &Prandom::default()), 0);
    }

    #[test]
    fn verdict_trims() {
        let p = prog(&[st(RET_K, 2)]).unwrap();
        assert_eq!(filter_verdict(&p, b"hello", &Prandom::default()), Some(2));
        let all = prog(&[st(RET_K, u32::MAX)]).unwrap();
        assert_eq!(filter_verdict(&all, b"hello", &Prandom::default()), Some(5));
        let drop = prog(&[st(RET_K, 0)]).unwrap();
        assert_eq!(filter_verdict(&drop, b"hello", &Prandom::default()), None);
    }

    /// Observations on the host kernel (6.18.44, x86_64): each program was
    /// attached with SO_ATTACH_FILTER to a dgram socketpair end, the payload
    /// sent, and the received length (or the drop) recorded.
    #[test]
    fn host_observations() {
        let ad = |o: u32| SKF_AD_OFF + o;
        let ret_a = st(RET_A, 0);
        let or60 = st(BPF_ALU | BPF_OR | BPF_K, 60);
        let letters: Vec<u8> = (65u8..155).collect();
        let mut nl = vec![5, 0, 1, 0, b'x', 0, 0, 0];
        nl.extend_from_slice(&[16, 0, 0x02, 0x80, 8, 0, 7, 0]);
        nl.extend_from_slice(b"abcd");
        nl.extend_from_slice(&[b'z'; 200]);
        type Case<'a> = (&'a str, Vec<SockFilter>, &'a [u8], Option<usize>);
        let cases: Vec<Case> = vec![
            (
                "ifindex exits with A",
                vec![
                    st(BPF_LD | BPF_IMM, 77),
                    st(0x20, ad(SKF_AD_IFINDEX)),
                    st(RET_K, 5),
                ],
                &letters,
                Some(77),
            ),
            (
                "hatype exits with A",
                vec![
                    st(BPF_LD | BPF_IMM, 66),
                    st(0x28, ad(SKF_AD_HATYPE)),
                    st(RET_K, 5),
                ],
                &letters,
                Some(66),
            ),
            (
                "net_off reads payload",
                vec![st(0x30, SKF_NET_OFF + 1), ret_a],
                &letters,
                Some(66),
            ),
            (
                "ll_off drops",
                vec![st(0x30, SKF_LL_OFF), st(RET_K, 100)],
                &letters,
                None,
            ),
            (
                "below ll drops",
                vec![st(0x30, 0x8000_0000), st(RET_K, 100)],
                &letters,
                None,
            ),
            (
                "protocol 0",
                vec![
                    st(BPF_LD | BPF_IMM, 50),
                    st(0x20, ad(SKF_AD_PROTOCOL)),
                    or60,
                    ret_a,
                ],
                &letters,
                Some(60),
            ),
            (
                "pkttype 0",
                vec![st(0x20, ad(SKF_AD_PKTTYPE)), or60, ret_a],
                &letters,
                Some(60),
            ),
            (
                "ldh pkttype 0",
                vec![st(0x28, ad(SKF_AD_PKTTYPE)), or60, ret_a],
                &letters,
                Some(60),
            ),
            (
                "pay_offset 0",
                vec![st(0x20, ad(SKF_AD_PAY_OFFSET)), or60, ret_a],
                &letters,
                Some(60),
            ),
            (
                "vlan present 0",
                vec![st(0x20, ad(SKF_AD_VLAN_TAG_PRESENT)), or60, ret_a],
                &letters,
                Some(60),
            ),
            (
                "vlan tpid 0",
                vec![st(0x20, ad(SKF_AD_VLAN_TPID)), or60, ret_a],
                &letters,
                Some(60),
            ),
            (
                "mark 0",
                vec![st(0x20, ad(SKF_AD_MARK)), or60, ret_a],
                &letters,
                Some(60),
            ),
            (
                "rxhash 0",
                vec![st(0x20, ad(SKF_AD_RXHASH)), or60, ret_a],
                &letters,
                Some(60),
            ),
            (
                "queue 0",
                vec![st(0x20, ad(SKF_AD_QUEUE)), or60, ret_a],
                &letters,
                Some(60),
            ),
            (
                "xor_x",
                vec![
                    st(BPF_LDX | BPF_IMM, 0x0f),
                    st(BPF_LD | BPF_IMM, 0x30),
                    st(0x20, ad(SKF_AD_ALU_XOR_X)),
                    ret_a,
                ],
                &letters,
                Some(63),
            ),
            (
                "ind at ad offset drops",
                vec![st(0x40, ad(4)), st(RET_K, 100)],
                &letters,
                None,
            ),
            (
                "ind offset wraps",
                vec![st(BPF_LDX | BPF_IMM, u32::MAX), st(0x50, 2), ret_a],
                &letters,
                Some(66),
            ),
            (
                "div by X 0 drops",
                vec![st(BPF_LD | BPF_IMM, 7), st(0x3c, 0), st(RET_K, 9)],
                &letters,
                None,
            ),
            (
                "lsh by X masks 31",
                vec![
                    st(BPF_LD | BPF_IMM, 3),
                    st(BPF_LDX | BPF_IMM, 33),
                    st(0x6c, 0),
                    ret_a,
                ],
                &letters,
                Some(6),
            ),
            (
                "msh out of bounds drops",
                vec![st(0xb1, 100), st(RET_K, 50)],
                &letters,
                None,
            ),
            (
                "jgt is unsigned",
                vec![
                    st(BPF_LD | BPF_IMM, 0x9000_0000),
                    SockFilter::jump(0x25, 0x8000_0000, 0, 1),
                    st(RET_K, 7),
                    st(RET_K, 3),
                ],
                &letters,
                Some(7),
            ),
            (
                "nlattr",
                vec![st(BPF_LDX | BPF_IMM, 2), st(0x20, ad(SKF_AD_NLATTR)), ret_a],
                &nl,
                Some(8),
            ),
            (
                "nlattr from mid-attr",
                vec![
                    st(BPF_LDX | BPF_IMM, 2),
                    st(BPF_LD | BPF_IMM, 4),
                    st(0x20, ad(SKF_AD_NLATTR)),
                    or60,
                    ret_a,
                ],
                &nl,
                Some(60),
            ),
            (
                "nlattr_nest found",
                vec![
                    st(BPF_LDX | BPF_IMM, 7),
                    st(BPF_LD | BPF_IMM, 8),
                    st(0x20, ad(SKF_AD_NLATTR_NEST)),
                    ret_a,
                ],
                &nl,
                Some(12),
            ),
            (
                "nlattr_nest missing",
                vec![
                    st(BPF_LDX | BPF_IMM, 9),
                    st(BPF_LD | BPF_IMM, 8),
                    st(0x20, ad(SKF_AD_NLATTR_NEST)),
                    or60,
                    ret_a,
                ],
                &nl,
                Some(60),
            ),
            (
                "nlattr_nest tiny attr",
                vec![
                    st(BPF_LDX | BPF_IMM, 7),
                    st(0x20, ad(SKF_AD_NLATTR_NEST)),
                    ret_a,
                ],
                &nl,
                None,
            ),
            (
                "ld len",
                vec![st(BPF_LD | BPF_W | BPF_LEN, 0), ret_a],
                &letters,
                Some(90),
            ),
            (
                "ret > len keeps all",
                vec![st(RET_K, u32::MAX)],
                &letters,
                Some(90),
            ),
            ("empty payload kept", vec![st(RET_K, 5)], b"", Some(0)),
        ];
        for (name, insns, pkt, want) in cases {
            let p = prog(&insns).unwrap_or_else(|e| panic!("{name}: rejected: {e:?}"));
            assert_eq!(filter_verdict(&p, pkt, &Prandom::default()), want, "{name}");
        }
        // Rejected by the host (EINVAL).
        let rejected: Vec<(&str, Vec<SockFilter>)> = vec![
            ("ad+64", vec![st(0x20, ad(64)), ret_a]),
            ("ad+2", vec![st(0x20, ad(2)), ret_a]),
            ("lsh k 32", vec![st(0x64, 32), ret_a]),
            ("ja past end", vec![st(BPF_JMP | BPF_JA, 1), st(RET_K, 1)]),
            ("ld h imm", vec![st(0x08, 1), ret_a]),
            ("ldx w abs", vec![st(0x21, 1), ret_a]),
            ("ld mem uninit", vec![st(0x60, 3), ret_a]),
            ("st 16", vec![st(BPF_ST, 16), ret_a]),
            (
                "not ending in ret",
                vec![st(RET_K, 1), st(BPF_LD | BPF_IMM, 1)],
            ),
            ("ret x", vec![st(0x0e, 0)]),
        ];
        for (name, insns) in rejected {
            assert_eq!(prog(&insns), Err(Errno::EINVAL.into()), "{name}");
        }
    }

    proptest! {
        #[test]
        fn parse_and_run_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            pkt in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            if let Ok(p) = Program::parse(&bytes) {
                let _ = p.run_with(&pkt, &Prandom::default());
                let _ = filter_verdict(&p, &pkt, &Prandom::default());
                prop_assert_eq!(p.to_bytes(), bytes);
            }
        }

        #[test]
        fn valid_opcode_programs_never_panic(
            insns in proptest::collection::vec(
                (prop::sample::select(vec![
                    0x00u16, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0c, 0x14, 0x15, 0x16, 0x1d,
                    0x20, 0x24, 0x25, 0x28, 0x2c, 0x30, 0x34, 0x35, 0x3c, 0x40, 0x44, 0x45, 0x48,
                    0x50, 0x54, 0x60, 0x61, 0x64, 0x74, 0x80, 0x81, 0x84, 0x87, 0x94, 0x9c, 0xa4,
                    0xb1,
                ]), any::<u8>(), any::<u8>(), prop_oneof![0u32..40, any::<u32>(), (0u32..64).prop_map(|o| SKF_AD_OFF + o)]),
                1..20),
            pkt in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut v: Vec<SockFilter> = insns.into_iter().map(|(code, jt, jf, k)| SockFilter { code, jt: jt % 4, jf: jf % 4, k }).collect();
            v.push(st(RET_A, 0));
            if let Ok(p) = Program::from_instructions(v) {
                let _ = filter_verdict(&p, &pkt, &Prandom::default());
            }
        }
    }
}
