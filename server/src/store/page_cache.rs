//! Serialised list pages kept between writes.
//!
//! A list page (the runs of a pipeline, say) is the same bytes for every caller until something
//! is written, so the page's JSON is kept with the store [`generation`](super::Store::generation)
//! it was read at and served again while that generation is current. Any committed write
//! invalidates every page at once: no per-route invalidation rule to forget. Auth still runs on
//! every request; only the store read and the JSON encoding are skipped.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// Bytes of cached pages kept at most; pages beyond it are served but not kept.
const BUDGET: usize = 16 * 1024 * 1024;

/// What identifies a page: route name plus its path parameters and paging query.
pub type PageKey = (&'static str, String, String, gofer_core::api::Page);

#[derive(Default)]
pub struct PageCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    bytes: usize,
    pages: HashMap<PageKey, Bytes>,
}

impl PageCache {
    /// The page stored for `key` when it was read at the `current` generation.
    pub fn get(&self, key: &PageKey, current: u64) -> Option<Bytes> {
        let inner = self.inner.lock().ok()?;
        if inner.generation != current {
            return None;
        }
        inner.pages.get(key).cloned()
    }

    /// Keeps `page`, read at `generation` (the value taken before the read began).
    pub fn put(&self, key: PageKey, generation: u64, page: Bytes) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if generation < inner.generation {
            return; // read before a write that is already visible: stale from the start
        }
        if generation > inner.generation {
            inner.pages.clear();
            inner.bytes = 0;
            inner.generation = generation;
        }
        if inner.bytes + page.len() > BUDGET {
            return;
        }
        inner.bytes += page.len();
        if let Some(old) = inner.pages.insert(key, page) {
            inner.bytes -= old.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gofer_core::api::Page;

    fn key(p: &str) -> PageKey {
        (
            "runs",
            "ns".into(),
            p.into(),
            Page {
                limit: 50,
                offset: 0,
                reverse: false,
            },
        )
    }

    #[test]
    fn a_page_is_served_only_at_its_generation() {
        let cache = PageCache::default();
        cache.put(key("a"), 3, Bytes::from_static(b"[1]"));
        assert_eq!(cache.get(&key("a"), 3).as_deref(), Some(&b"[1]"[..]));
        assert_eq!(cache.get(&key("b"), 3), None);
        // A write happened: the page is gone.
        assert_eq!(cache.get(&key("a"), 4), None);
        // A page read before generation 4 never replaces what generation 4 keeps.
        cache.put(key("a"), 4, Bytes::from_static(b"[2]"));
        cache.put(key("a"), 3, Bytes::from_static(b"[1]"));
        assert_eq!(cache.get(&key("a"), 4).as_deref(), Some(&b"[2]"[..]));
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        let cache = PageCache::default();
        let big = Bytes::from(vec![b'x'; BUDGET]);
        cache.put(key("a"), 1, big.clone());
        cache.put(key("b"), 1, Bytes::from_static(b"[]"));
        assert_eq!(cache.get(&key("a"), 1), Some(big));
        assert_eq!(cache.get(&key("b"), 1), None);
    }
}
