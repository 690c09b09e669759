//! `$n` placeholder lists for statements built at run time: `$n` is what both SQLite and
//! PostgreSQL accept (sqlx's `QueryBuilder` writes `?` for `Any`, which PostgreSQL rejects).

/// `($o+1, …, $o+width), (…)` for `rows` rows of `width` columns, numbered after `offset`.
pub fn rows(rows: usize, width: usize, offset: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells = (1..=width)
                .map(|c| format!("${}", offset + r * width + c))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({cells})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, …` (`count` placeholders).
pub fn list(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(a = $o+1 AND b = $o+2) OR (…)` for `count` pairs: a condition matching any of them.
pub fn pairs(a: &str, b: &str, count: usize, offset: usize) -> String {
    (0..count)
        .map(|k| {
            format!(
                "({a} = ${} AND {b} = ${})",
                offset + 2 * k + 1,
                offset + 2 * k + 2
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbered_after_the_offset() {
        assert_eq!(super::rows(2, 2, 3), "($4, $5), ($6, $7)");
        assert_eq!(super::rows(1, 3, 0), "($1, $2, $3)");
        assert_eq!(super::list(2, 3), "$2, $3, $4");
        assert_eq!(super::list(1, 0), "");
        assert_eq!(
            super::pairs("u", "t", 2, 0),
            "(u = $1 AND t = $2) OR (u = $3 AND t = $4)"
        );
    }
}
