-- backtest: the purchases of [from, to], in the order they happened, each with what the campaign engine reads of
-- it and of its member then: channel, store, basket lines (as JSON), the tier after it, the member's purchases
-- before it (over all history up to `to`) and enrolment time. Trino dialect.
WITH purchases AS (
    SELECT detail.member_id AS member_id, day, detail.transaction_id AS transaction_id,
           coalesce(detail.occurred_at, detail.at) AS occurred_at, detail.amount_minor AS amount_minor,
           detail.currency AS currency, detail.store_id AS store_id, detail.channel AS channel, detail.tier AS tier,
           json_format(CAST(detail.items AS JSON)) AS items,
           row_number() OVER (PARTITION BY detail.member_id ORDER BY day, detail.at, detail.entry_id) - 1 AS earlier
    FROM events
    WHERE detail_type = 'PointsEarned' AND day <= :to_day
),
enrolled AS (
    SELECT detail.member_id AS member_id, min(detail.enrolled_at) AS enrolled_at
    FROM events
    WHERE detail_type = 'MemberEnrolled' AND day <= :to_day
    GROUP BY detail.member_id
)
SELECT p.member_id, p.day, p.transaction_id, p.occurred_at, p.amount_minor, p.currency, p.store_id, p.channel, p.tier,
       p.items, p.earlier, e.enrolled_at
FROM purchases AS p
LEFT JOIN enrolled AS e ON e.member_id = p.member_id
WHERE p.day >= :from_day
ORDER BY p.occurred_at, p.transaction_id
