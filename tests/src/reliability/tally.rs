//! What a scenario found against what it expected, and the suite's table.

/// One kind of thing a scenario expects to find a given number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// What is counted, one word (`orders`, `shipments`).
    pub what: String,
    /// How many must exist.
    pub expected: u64,
    /// How many were found.
    pub found: u64,
    /// Missing: expected but not found (per item, so that one item found twice does not
    /// hide another found never).
    pub lost: u64,
    /// Extra: found more often than expected, per item.
    pub doubled: u64,
}

/// What a scenario came to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    /// How many times the work was delivered (events, webhooks, queue receives).
    pub deliveries: u64,
    /// The counts, in the order they print.
    pub counts: Vec<Count>,
}

impl Tally {
    /// A tally of `deliveries` deliveries, counting nothing yet.
    pub fn new(deliveries: u64) -> Self {
        Self {
            deliveries,
            counts: Vec::new(),
        }
    }

    /// Adds a count of one item (or of items that are alike).
    pub fn count(self, what: impl Into<String>, expected: u64, found: u64) -> Self {
        self.count_each(what, expected, &[found])
    }

    /// Adds a count over several items (one per order, say), each expected
    /// `expected_each` times; `found` has one number per item.
    pub fn count_each(
        mut self,
        what: impl Into<String>,
        expected_each: u64,
        found: &[u64],
    ) -> Self {
        self.counts.push(Count {
            what: what.into(),
            expected: expected_each * found.len() as u64,
            found: found.iter().sum(),
            lost: found.iter().map(|f| expected_each.saturating_sub(*f)).sum(),
            doubled: found.iter().map(|f| f.saturating_sub(expected_each)).sum(),
        });
        self
    }

    /// Everything missing, over every count.
    pub fn lost(&self) -> u64 {
        self.counts.iter().map(|count| count.lost).sum()
    }

    /// Everything extra, over every count.
    pub fn doubled(&self) -> u64 {
        self.counts.iter().map(|count| count.doubled).sum()
    }

    /// The expected end state: `files=1 orders=6`.
    pub fn expected(&self) -> String {
        self.describe(|count| count.expected)
    }

    /// What was found, in the same words.
    pub fn found(&self) -> String {
        self.describe(|count| count.found)
    }

    fn describe(&self, number: impl Fn(&Count) -> u64) -> String {
        self.counts
            .iter()
            .map(|count| format!("{}={}", count.what, number(count)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_items_are_lost_and_extra_ones_doubled() {
        let tally = Tally::new(3)
            .count("files", 1, 1)
            .count("orders", 6, 4)
            .count("shipments", 1, 3);
        assert_eq!(tally.lost(), 2);
        assert_eq!(tally.doubled(), 2);
        assert_eq!(tally.expected(), "files=1 orders=6 shipments=1");
        assert_eq!(tally.found(), "files=1 orders=4 shipments=3");
    }

    #[test]
    fn one_item_found_twice_does_not_hide_another_found_never() {
        let tally = Tally::new(2).count_each("accepted", 1, &[2, 0, 1]);
        assert_eq!(tally.found(), "accepted=3");
        assert_eq!((tally.lost(), tally.doubled()), (1, 1));
    }
}
