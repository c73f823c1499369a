-- repeat_purchase: the members whose first purchase in [from, to] was followed by another (the same day
-- included) within :within_days days. Purchases are read up to :until_day (to + within_days). Trino dialect.
WITH ranked AS (
    SELECT detail.member_id AS member_id, CAST(day AS DATE) AS bought_on,
           row_number() OVER (PARTITION BY detail.member_id ORDER BY day, detail.at, detail.entry_id) AS n
    FROM events
    WHERE detail_type = 'PointsEarned' AND day BETWEEN :from_day AND :until_day
),
firsts AS (
    SELECT member_id, bought_on FROM ranked WHERE n = 1 AND bought_on <= CAST(:to_day AS DATE)
),
seconds AS (
    SELECT member_id, bought_on FROM ranked WHERE n = 2
)
SELECT count(*) AS buyers,
       sum(CASE WHEN s.bought_on IS NOT NULL AND date_diff('day', f.bought_on, s.bought_on) <= :within_days
                THEN 1 ELSE 0 END) AS repeat_buyers
FROM firsts AS f
LEFT JOIN seconds AS s ON s.member_id = f.member_id
