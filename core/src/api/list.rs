//! Pagination of list routes (docs/api.md#common-rules).

/// Largest accepted `limit`.
pub const MAX_LIMIT: u64 = 1000;

/// A validated page request. `limit` already has the route's default applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
    pub reverse: bool,
}

impl Page {
    /// Everything, in order: for server-internal reads that need a whole list.
    pub const ALL: Page = Page {
        limit: u64::MAX,
        offset: 0,
        reverse: false,
    };

    /// Parses `limit`, `offset` and `reverse` from query pairs; `default_limit` replaces 0 or absence.
    /// Errors name the parameter, e.g. `limit: must be an integer between 0 and 1000`.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        default_limit: u64,
    ) -> Result<Page, String> {
        let mut page = Page {
            limit: default_limit,
            offset: 0,
            reverse: false,
        };
        for (key, value) in pairs {
            match key {
                "limit" => {
                    let limit = value
                        .parse::<u64>()
                        .ok()
                        .filter(|l| *l <= MAX_LIMIT)
                        .ok_or_else(|| {
                            format!("limit: must be an integer between 0 and {MAX_LIMIT}")
                        })?;
                    page.limit = if limit == 0 { default_limit } else { limit };
                }
                "offset" => {
                    page.offset = value
                        .parse::<u64>()
                        .map_err(|_| "offset: must be a non-negative integer".to_string())?;
                }
                "reverse" => page.reverse = parse_bool("reverse", value)?,
                _ => {}
            }
        }
        Ok(page)
    }

    /// Applies the page to an already ordered list (used where a store cannot page natively).
    pub fn apply<T>(&self, mut items: Vec<T>) -> Vec<T> {
        if self.reverse {
            items.reverse();
        }
        items
            .into_iter()
            .skip(self.offset as usize)
            .take(self.limit as usize)
            .collect()
    }
}

/// Query-string booleans are exactly `true` or `false` (docs/api.md#common-rules).
pub fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{name}: must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let p = Page::from_query([], 200).unwrap();
        assert_eq!(
            p,
            Page {
                limit: 200,
                offset: 0,
                reverse: false
            }
        );
        let p = Page::from_query([("limit", "0"), ("reverse", "true")], 50).unwrap();
        assert_eq!(p.limit, 50);
        assert!(p.reverse);
        assert_eq!(
            Page::from_query([("limit", "1001")], 50).unwrap_err(),
            "limit: must be an integer between 0 and 1000"
        );
        assert!(Page::from_query([("limit", "-1")], 50).is_err());
        assert!(Page::from_query([("offset", "x")], 50).is_err());
        assert!(Page::from_query([("reverse", "yes")], 50).is_err());
    }

    #[test]
    fn apply_pages() {
        let p = Page {
            limit: 2,
            offset: 1,
            reverse: true,
        };
        assert_eq!(p.apply(vec![1, 2, 3, 4]), vec![3, 2]);
    }
}
