//! Byte tries for anchored literals: `startswith` patterns walked forward
//! from the first byte of a value, `endswith` patterns walked backward from
//! its last byte. A walk costs the length of the longest pattern that could
//! match, not the length of the value or the number of patterns — cheaper
//! than an unanchored Aho-Corasick scan for the path suffixes (`\cmd.exe`)
//! that dominate real rule sets.

/// A trie over byte strings with values at pattern ends.
#[derive(Clone, Debug)]
pub struct ByteTrie<V> {
    /// Per node: sorted (byte, child) edges.
    edges: Vec<Vec<(u8, u32)>>,
    /// Per node: values of patterns ending here.
    values: Vec<Vec<V>>,
}

impl<V: Clone> Default for ByteTrie<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone> ByteTrie<V> {
    pub fn new() -> Self {
        ByteTrie {
            edges: vec![Vec::new()],
            values: vec![Vec::new()],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.edges.len() <= 1 && self.values.first().is_none_or(|v| v.is_empty())
    }

    pub fn len_nodes(&self) -> usize {
        self.edges.len()
    }

    /// Inserts `key` (in walk order: reversed for suffix tries).
    pub fn insert(&mut self, key: impl Iterator<Item = u8>, value: V) {
        let mut node = 0usize;
        for b in key {
            node = match self.edges[node].binary_search_by_key(&b, |e| e.0) {
                Ok(i) => self.edges[node][i].1 as usize,
                Err(i) => {
                    let child = self.edges.len();
                    self.edges.push(Vec::new());
                    self.values.push(Vec::new());
                    self.edges[node].insert(i, (b, child as u32));
                    child
                }
            };
        }
        self.values[node].push(value);
    }

    /// Calls `f(value, depth)` for every pattern that is a prefix of `bytes`
    /// (in walk order), shortest first.
    #[inline]
    pub fn walk(&self, bytes: impl Iterator<Item = u8>, mut f: impl FnMut(&V, usize)) {
        let mut node = 0usize;
        for v in &self.values[0] {
            f(v, 0);
        }
        for (depth, b) in bytes.enumerate() {
            let edges = &self.edges[node];
            let next = if edges.len() <= 8 {
                edges.iter().find(|e| e.0 == b).map(|e| e.1)
            } else {
                edges.binary_search_by_key(&b, |e| e.0).ok().map(|i| edges[i].1)
            };
            let Some(n) = next else { return };
            node = n as usize;
            for v in &self.values[node] {
                f(v, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_all_anchored_patterns() {
        let mut t = ByteTrie::new();
        for (i, p) in ["\\cmd.exe", "cmd.exe", ".exe", "\\powershell.exe"].iter().enumerate() {
            t.insert(p.bytes().rev(), i);
        }
        let mut hits = Vec::new();
        t.walk("c:\\windows\\cmd.exe".bytes().rev(), |v, _| hits.push(*v));
        assert_eq!(hits, vec![2, 1, 0]);
        hits.clear();
        t.walk("cmd.ex".bytes().rev(), |v, _| hits.push(*v));
        assert!(hits.is_empty());
    }
}
