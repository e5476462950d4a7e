//! /etc/ld.so.cache in its binary format ("glibc-ld.so.cache1.1", optionally behind the
//! old "ld.so-1.7.0" table), parsed from bytes handed in; lookups follow glibc's dl-cache.c:
//! entries must carry the flags of the object's ABI, and a glibc-hwcaps entry the CPU supports
//! beats the baseline one. `to_bytes` writes the same format back (a jail's own cache),
//! sorted as ldconfig sorts it, since the loader binary-searches the table.

use std::collections::HashMap;
use std::path::PathBuf;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const EXTENSION_MAGIC: u32 = 0x6570_faac;
const EXTENSION_TAG_GLIBC_HWCAPS: u32 = 1;
const HWCAP_EXTENSION: u64 = 1 << 62;

/// One cache entry for a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    pub flags: i32,
    pub path: PathBuf,
    /// The glibc-hwcaps subdirectory this entry is for (`x86-64-v3`), if any.
    pub hwcaps: Option<String>,
    /// A legacy (pre-2.33) hwcap mask; such entries are ignored like modern glibc does.
    pub legacy_hwcap: u64,
}

/// The parsed cache: name → entries, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LdCache {
    entries: HashMap<String, Vec<CacheEntry>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("ld.so.cache is malformed: {0}")]
pub struct CacheError(String);

fn u32_at(b: &[u8], off: usize) -> Result<u32, CacheError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| CacheError(format!("truncated at {off:#x}")))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64, CacheError> {
    b.get(off..off + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        .ok_or_else(|| CacheError(format!("truncated at {off:#x}")))
}

fn cstr_at(b: &[u8], off: usize) -> Result<String, CacheError> {
    let tail = b
        .get(off..)
        .ok_or_else(|| CacheError(format!("string offset {off:#x} past the end")))?;
    let s = tail.split(|&c| c == 0).next().unwrap_or_default();
    Ok(String::from_utf8_lossy(s).into_owned())
}

impl LdCache {
    /// Parses the cache file's bytes (little-endian hosts).
    pub fn parse(bytes: &[u8]) -> Result<LdCache, CacheError> {
        let base = find_new_format(bytes)?;
        let b = &bytes[base..];
        let nlibs = u32_at(b, 20)? as usize;
        let ext_offset = u32_at(b, 32)? as usize;
        let hwcaps = if ext_offset != 0 {
            read_hwcaps_strings(b, ext_offset)?
        } else {
            Vec::new()
        };
        const HEADER: usize = 48;
        const ENTRY: usize = 24;
        let mut entries: HashMap<String, Vec<CacheEntry>> = HashMap::with_capacity(nlibs);
        for i in 0..nlibs {
            let e = HEADER + i * ENTRY;
            let flags = u32_at(b, e)? as i32;
            let key = cstr_at(b, u32_at(b, e + 4)? as usize)?;
            let value = cstr_at(b, u32_at(b, e + 8)? as usize)?;
            let hwcap = u64_at(b, e + 16)?;
            let (hwcaps_name, legacy) =
                if hwcap & HWCAP_EXTENSION != 0 {
                    let idx = (hwcap & 0xffff_ffff) as usize;
                    (
                        Some(hwcaps.get(idx).cloned().ok_or_else(|| {
                            CacheError(format!("hwcaps index {idx} out of range"))
                        })?),
                        0,
                    )
                } else {
                    (None, hwcap)
                };
            entries.entry(key).or_default().push(CacheEntry {
                flags,
                path: PathBuf::from(value),
                hwcaps: hwcaps_name,
                legacy_hwcap: legacy,
            });
        }
        Ok(LdCache { entries })
    }

    /// A cache holding `entries` (name, entry), in that order: for tests and for writing a
    /// jail's own cache.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, CacheEntry)>) -> Self {
        let mut map: HashMap<String, Vec<CacheEntry>> = HashMap::new();
        for (name, e) in entries {
            map.entry(name).or_default().push(e);
        }
        LdCache { entries: map }
    }

    /// Looks `name` up for an object whose ABI wants `flags`; `supported` lists the
    /// glibc-hwcaps subdirectories the CPU supports, best first.
    pub fn lookup(&self, name: &str, flags: i32, supported: &[String]) -> Option<&CacheEntry> {
        let candidates = self.entries.get(name)?;
        let mut best: Option<(usize, &CacheEntry)> = None;
        let mut baseline = None;
        for e in candidates.iter().filter(|e| e.flags == flags) {
            match &e.hwcaps {
                Some(h) => {
                    if let Some(prio) = supported.iter().position(|s| s == h)
                        && best.is_none_or(|(p, _)| prio < p)
                    {
                        best = Some((prio, e));
                    }
                }
                None if e.legacy_hwcap == 0 && baseline.is_none() => baseline = Some(e),
                None => {}
            }
        }
        best.map(|(_, e)| e).or(baseline)
    }

    /// Every (name, entry), in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &CacheEntry)> {
        self.entries
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |e| (k, e)))
    }

    /// Every entry for a name, whatever its flags (for diagnostics and variants).
    pub fn all(&self, name: &str) -> &[CacheEntry] {
        self.entries
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// glibc's `_dl_cache_libcmp`: byte order, except that runs of digits compare as numbers
/// (`libfoo.so.10` after `libfoo.so.9`).
pub fn libcmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() {
        if digit(a, i) {
            if !digit(b, j) {
                return Ordering::Greater;
            }
            let (mut x, mut y) = (0u64, 0u64);
            while digit(a, i) {
                x = x.wrapping_mul(10).wrapping_add(u64::from(a[i] - b'0'));
                i += 1;
            }
            while digit(b, j) {
                y = y.wrapping_mul(10).wrapping_add(u64::from(b[j] - b'0'));
                j += 1;
            }
            if x != y {
                return x.cmp(&y);
            }
        } else if digit(b, j) {
            return Ordering::Less;
        } else {
            let c = b.get(j).copied().unwrap_or(0);
            if a[i] != c {
                return a[i].cmp(&c);
            }
            i += 1;
            j += 1;
        }
    }
    0u8.cmp(&b.get(j).copied().unwrap_or(0))
}

/// ldconfig's order of two entries (`compare` in ldconfig's cache.c): names descending by
/// `libcmp`, then flags descending, glibc-hwcaps entries before the baseline (by subdirectory
/// name), then legacy hwcap descending. The loader's binary search relies on it.
fn ldconfig_order(a: (&str, &CacheEntry), b: (&str, &CacheEntry)) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    libcmp(b.0, a.0)
        .then(b.1.flags.cmp(&a.1.flags))
        .then_with(|| match (&a.1.hwcaps, &b.1.hwcaps) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => b.1.legacy_hwcap.cmp(&a.1.legacy_hwcap),
        })
}

/// A string table whose offsets count from the start of the file (the new format's rule).
struct Strings {
    base: usize,
    bytes: Vec<u8>,
    at: HashMap<String, u32>,
}

impl Strings {
    fn add(&mut self, s: &str) -> u32 {
        if let Some(&off) = self.at.get(s) {
            return off;
        }
        let off = (self.base + self.bytes.len()) as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.at.insert(s.to_string(), off);
        off
    }
}

impl LdCache {
    /// The cache in glibc's "glibc-ld.so.cache1.1" format (little-endian), entries in
    /// ldconfig's order, glibc-hwcaps subdirectories in the hwcaps extension: what
    /// `ldconfig -p -C FILE` lists and the loader reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        const HEADER: usize = 48;
        const ENTRY: usize = 24;
        let mut all: Vec<(&str, &CacheEntry)> = self
            .entries
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |e| (k.as_str(), e)))
            .collect();
        all.sort_by(|a, b| ldconfig_order(*a, *b));
        let mut hwcaps: Vec<&str> = all
            .iter()
            .filter_map(|(_, e)| e.hwcaps.as_deref())
            .collect();
        hwcaps.sort_unstable();
        hwcaps.dedup();
        let mut strings = Strings {
            base: HEADER + all.len() * ENTRY,
            bytes: Vec::new(),
            at: HashMap::new(),
        };
        let mut table = Vec::with_capacity(all.len() * ENTRY);
        for (name, e) in &all {
            let hwcap = match &e.hwcaps {
                Some(h) => {
                    let idx = hwcaps.iter().position(|x| x == h).expect("collected above");
                    HWCAP_EXTENSION | idx as u64
                }
                None => e.legacy_hwcap,
            };
            table.extend_from_slice(&e.flags.to_le_bytes());
            table.extend_from_slice(&strings.add(name).to_le_bytes());
            table.extend_from_slice(&strings.add(&e.path.to_string_lossy()).to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            table.extend_from_slice(&hwcap.to_le_bytes());
        }
        let hwcap_offsets: Vec<u32> = hwcaps.iter().map(|h| strings.add(h)).collect();
        let len_strings = strings.bytes.len();
        let ext = (strings.base + len_strings).div_ceil(8) * 8;
        let mut b = Vec::with_capacity(ext + 32 + 4 * hwcaps.len());
        b.extend_from_slice(NEW_MAGIC);
        b.extend_from_slice(&(all.len() as u32).to_le_bytes());
        b.extend_from_slice(&(len_strings as u32).to_le_bytes());
        b.extend_from_slice(&[2, 0, 0, 0]); // flags: little-endian
        b.extend_from_slice(&(ext as u32).to_le_bytes());
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&table);
        b.extend_from_slice(&strings.bytes);
        b.resize(ext, 0);
        let data = ext + 8 + 16;
        b.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        let size = 4 * hwcap_offsets.len() as u32;
        for w in [EXTENSION_TAG_GLIBC_HWCAPS, 0, data as u32, size] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        for off in hwcap_offsets {
            b.extend_from_slice(&off.to_le_bytes());
        }
        b
    }
}

fn find_new_format(bytes: &[u8]) -> Result<usize, CacheError> {
    if bytes.starts_with(NEW_MAGIC) {
        return Ok(0);
    }
    if bytes.starts_with(OLD_MAGIC) {
        let nlibs = u32_at(bytes, 12)? as usize;
        let end = 16 + nlibs * 12;
        let aligned = end.div_ceil(8) * 8;
        if bytes
            .get(aligned..)
            .is_some_and(|b| b.starts_with(NEW_MAGIC))
        {
            return Ok(aligned);
        }
        return Err(CacheError(
            "only the old libc5-era format is present".into(),
        ));
    }
    Err(CacheError("unknown magic".into()))
}

fn read_hwcaps_strings(b: &[u8], ext: usize) -> Result<Vec<String>, CacheError> {
    if u32_at(b, ext)? != EXTENSION_MAGIC {
        return Ok(Vec::new());
    }
    let count = u32_at(b, ext + 4)? as usize;
    for i in 0..count {
        let s = ext + 8 + i * 16;
        if u32_at(b, s)? == EXTENSION_TAG_GLIBC_HWCAPS {
            let offset = u32_at(b, s + 8)? as usize;
            let size = u32_at(b, s + 12)? as usize;
            return (0..size / 4)
                .map(|k| cstr_at(b, u32_at(b, offset + 4 * k)? as usize))
                .collect();
        }
    }
    Ok(Vec::new())
}

/// The cache flags glibc's loader accepts for an object of this class and machine
/// (`_dl_cache_check_flags`): FLAG_ELF_LIBC6 plus the ABI's "required" bits.
pub fn flags_for(class: u8, machine: u16) -> i32 {
    const LIBC6: i32 = 0x0003;
    const EM_386: u16 = 3;
    const EM_X86_64: u16 = 62;
    const EM_AARCH64: u16 = 183;
    const EM_PPC64: u16 = 21;
    const EM_S390: u16 = 22;
    const EM_RISCV: u16 = 243;
    match (class, machine) {
        (64, EM_X86_64) => LIBC6 | 0x0300,
        (32, EM_X86_64) => LIBC6 | 0x0800,
        (32, EM_386) => LIBC6,
        (64, EM_AARCH64) => LIBC6 | 0x0a00,
        (64, EM_PPC64) => LIBC6 | 0x0500,
        (64, EM_S390) => LIBC6 | 0x0400,
        (64, EM_RISCV) => LIBC6 | 0x1000,
        _ => LIBC6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a tiny new-format cache with one baseline and one hwcaps entry.
    fn sample() -> Vec<u8> {
        let mut strings = Vec::new();
        let mut add = |s: &str, base: usize| {
            let off = base + strings.len();
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            off
        };
        let n = 2;
        let strbase = 48 + n * 24;
        let k = add("libz.so.1", strbase);
        let v1 = add("/usr/lib/libz.so.1", strbase);
        let v2 = add("/usr/lib/glibc-hwcaps/x86-64-v3/libz.so.1", strbase);
        let h = add("x86-64-v3", strbase);
        let ext = (strbase + strings.len()).div_ceil(8) * 8;
        let mut b = Vec::new();
        b.extend_from_slice(NEW_MAGIC);
        b.extend_from_slice(&(n as u32).to_le_bytes());
        b.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        b.extend_from_slice(&[2, 0, 0, 0]);
        b.extend_from_slice(&(ext as u32).to_le_bytes());
        b.extend_from_slice(&[0; 12]);
        for (v, hw) in [(v2, HWCAP_EXTENSION), (v1, 0)] {
            b.extend_from_slice(&0x0303u32.to_le_bytes());
            b.extend_from_slice(&(k as u32).to_le_bytes());
            b.extend_from_slice(&(v as u32).to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&hw.to_le_bytes());
        }
        b.extend_from_slice(&strings);
        b.resize(ext, 0);
        let table = ext + 8 + 16;
        b.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        for w in [EXTENSION_TAG_GLIBC_HWCAPS, 0, table as u32, 4] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&(h as u32).to_le_bytes());
        b
    }

    #[test]
    fn hwcaps_entry_wins_when_supported() {
        let c = LdCache::parse(&sample()).unwrap();
        let v3 = vec!["x86-64-v3".to_string(), "x86-64-v2".to_string()];
        assert_eq!(
            c.lookup("libz.so.1", 0x0303, &v3).unwrap().path,
            PathBuf::from("/usr/lib/glibc-hwcaps/x86-64-v3/libz.so.1")
        );
        assert_eq!(
            c.lookup("libz.so.1", 0x0303, &[]).unwrap().path,
            PathBuf::from("/usr/lib/libz.so.1")
        );
        assert!(
            c.lookup("libz.so.1", 0x0003, &v3).is_none(),
            "wrong ABI flags never match"
        );
    }

    #[test]
    fn host_cache_parses() {
        if let Ok(b) = std::fs::read("/etc/ld.so.cache") {
            let c = LdCache::parse(&b).unwrap();
            assert!(c.lookup("libc.so.6", flags_for(64, 62), &[]).is_some());
        }
    }

    #[test]
    fn libcmp_compares_digit_runs_as_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(libcmp("libfoo.so.10", "libfoo.so.9"), Greater);
        assert_eq!(libcmp("libfoo.so", "libfoo.so.1"), Less);
        assert_eq!(libcmp("liba.so", "liba.so"), Equal);
        assert_eq!(
            libcmp("lib1", "liba"),
            Greater,
            "a digit sorts after a letter"
        );
    }

    #[test]
    fn the_host_cache_is_in_ldconfig_order() {
        // pins `libcmp` and the order against what ldconfig wrote
        let Ok(bytes) = std::fs::read("/etc/ld.so.cache") else {
            return;
        };
        let base = find_new_format(&bytes).unwrap();
        let b = &bytes[base..];
        let n = u32_at(b, 20).unwrap() as usize;
        let keys: Vec<String> = (0..n)
            .map(|i| cstr_at(b, u32_at(b, 48 + i * 24 + 4).unwrap() as usize).unwrap())
            .collect();
        for w in keys.windows(2) {
            assert_ne!(
                libcmp(&w[0], &w[1]),
                std::cmp::Ordering::Less,
                "{} before {}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn written_caches_parse_back_the_same() {
        let c = LdCache::parse(&sample()).unwrap();
        let again = LdCache::parse(&c.to_bytes()).unwrap();
        assert_eq!(again, c);
        if let Ok(b) = std::fs::read("/etc/ld.so.cache") {
            let host = LdCache::parse(&b).unwrap();
            let copy = LdCache::parse(&host.to_bytes()).unwrap();
            assert_eq!(copy.len(), host.len());
            let mut names: Vec<&String> = host.entries.keys().collect();
            names.sort();
            for name in names {
                let mut a = host.all(name).to_vec();
                let mut b = copy.all(name).to_vec();
                let k = |e: &CacheEntry| (e.flags, e.path.clone(), e.hwcaps.clone());
                a.sort_by_key(k);
                b.sort_by_key(k);
                assert_eq!(a, b, "{name}");
            }
        }
    }

    #[test]
    fn written_entries_are_sorted_as_ldconfig_sorts_them() {
        let e = |p: &str, h: Option<&str>| CacheEntry {
            flags: 0x0303,
            path: p.into(),
            hwcaps: h.map(str::to_string),
            legacy_hwcap: 0,
        };
        let c = LdCache::from_entries([
            ("liba.so.1".to_string(), e("/l/liba.so.1", None)),
            ("libz.so.1".to_string(), e("/l/libz.so.1", None)),
            (
                "libz.so.1".to_string(),
                e("/l/glibc-hwcaps/x86-64-v3/libz.so.1", Some("x86-64-v3")),
            ),
            ("libb.so.10".to_string(), e("/l/libb.so.10", None)),
            ("libb.so.9".to_string(), e("/l/libb.so.9", None)),
        ]);
        let b = c.to_bytes();
        let keys: Vec<(String, String)> = (0..5)
            .map(|i| {
                let at =
                    |k: usize| cstr_at(&b, u32_at(&b, 48 + i * 24 + k).unwrap() as usize).unwrap();
                (at(4), at(8))
            })
            .collect();
        assert_eq!(
            keys,
            [
                (
                    "libz.so.1".into(),
                    "/l/glibc-hwcaps/x86-64-v3/libz.so.1".into()
                ),
                ("libz.so.1".into(), "/l/libz.so.1".into()),
                ("libb.so.10".into(), "/l/libb.so.10".into()),
                ("libb.so.9".into(), "/l/libb.so.9".into()),
                ("liba.so.1".into(), "/l/liba.so.1".into()),
            ]
        );
        let v3 = vec!["x86-64-v3".to_string()];
        assert_eq!(
            LdCache::parse(&b)
                .unwrap()
                .lookup("libz.so.1", 0x0303, &v3)
                .unwrap()
                .path,
            PathBuf::from("/l/glibc-hwcaps/x86-64-v3/libz.so.1")
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(LdCache::parse(b"nonsense").is_err());
    }
}
