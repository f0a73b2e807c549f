//! Pagination of every list: opaque cursors (base64url of the last key of
//! the page before) and a page size from `[server] page_size`.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use base64::Engine as _;

use super::Error;

/// One page of a list, and the cursor of the next page.
pub struct Page<T> {
    pub items: Vec<Arc<T>>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The page of the `visible` entries of `items` after `cursor`.
    pub fn of(
        items: &BTreeMap<String, Arc<T>>,
        cursor: Option<&str>,
        size: usize,
        visible: impl Fn(&T) -> bool,
    ) -> Result<Self, Error> {
        let size = size.max(1);
        let after = match cursor {
            None => None,
            Some(cursor) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "invalid cursor `{}`; pass back a nextCursor unchanged",
                            cursor.escape_debug()
                        ))
                    })?,
            ),
        };
        let start = match &after {
            Some(key) => Bound::Excluded(key.as_str()),
            None => Bound::Unbounded,
        };
        let mut entries: Vec<(&String, &Arc<T>)> = items
            .range::<str, _>((start, Bound::Unbounded))
            .filter(|(_, item)| visible(item))
            .take(size + 1)
            .collect();
        let next = (entries.len() > size).then(|| {
            entries.truncate(size);
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(entries[size - 1].0)
        });
        Ok(Self {
            items: entries.into_iter().map(|(_, item)| item.clone()).collect(),
            next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_cursors_and_skip_hidden_entries() {
        let items: BTreeMap<String, Arc<u32>> =
            (0..5).map(|i| (format!("k{i}"), Arc::new(i))).collect();
        let first = Page::of(&items, None, 2, |i| *i != 1).unwrap();
        assert_eq!(first.items.iter().map(|i| **i).collect::<Vec<_>>(), [0, 2]);
        let second = Page::of(&items, first.next.as_deref(), 2, |i| *i != 1).unwrap();
        assert_eq!(second.items.iter().map(|i| **i).collect::<Vec<_>>(), [3, 4]);
        assert!(second.next.is_none());
        assert!(matches!(
            Page::of(&items, Some("!!"), 2, |_| true),
            Err(Error::Invalid(_))
        ));
    }
}
