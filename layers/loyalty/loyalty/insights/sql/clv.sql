-- clv: per enrolment month in [from, to], its members and what they spent and earned (points) in their first 3,
-- 6 and 12 calendar months (the month of enrolment is the first), purchases up to `to`, after returns: a return
-- takes its refund and the points it took back off the month it happened in. Trino dialect.
WITH enrolled AS (
    SELECT detail.member_id AS member_id,
           year(CAST(day AS DATE)) * 12 + month(CAST(day AS DATE)) - 1 AS cohort
    FROM events
    WHERE detail_type = 'MemberEnrolled' AND day BETWEEN :from_day AND :to_day
),
bought AS (
    SELECT detail.member_id AS member_id,
           year(CAST(day AS DATE)) * 12 + month(CAST(day AS DATE)) - 1 AS bought_month,
           detail.amount_minor AS amount_minor, detail.points AS points
    FROM events
    WHERE detail_type = 'PointsEarned' AND day BETWEEN :from_day AND :to_day
    UNION ALL
    SELECT detail.member_id AS member_id,
           year(CAST(day AS DATE)) * 12 + month(CAST(day AS DATE)) - 1 AS bought_month,
           -detail.amount_minor AS amount_minor, -detail.points AS points
    FROM events
    WHERE detail_type = 'PurchaseReturned' AND day BETWEEN :from_day AND :to_day
)
SELECT e.cohort,
       count(DISTINCT e.member_id) AS members,
       sum(CASE WHEN b.bought_month - e.cohort < 3 THEN b.amount_minor ELSE 0 END) AS revenue_3,
       sum(CASE WHEN b.bought_month - e.cohort < 6 THEN b.amount_minor ELSE 0 END) AS revenue_6,
       sum(CASE WHEN b.bought_month - e.cohort < 12 THEN b.amount_minor ELSE 0 END) AS revenue_12,
       sum(CASE WHEN b.bought_month - e.cohort < 3 THEN b.points ELSE 0 END) AS points_3,
       sum(CASE WHEN b.bought_month - e.cohort < 6 THEN b.points ELSE 0 END) AS points_6,
       sum(CASE WHEN b.bought_month - e.cohort < 12 THEN b.points ELSE 0 END) AS points_12
FROM enrolled AS e
LEFT JOIN bought AS b ON b.member_id = e.member_id AND b.bought_month >= e.cohort
GROUP BY e.cohort
