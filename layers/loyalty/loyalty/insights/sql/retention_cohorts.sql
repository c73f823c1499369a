-- retention_cohorts: per enrolment month in [from, to], the members enrolled (months_since = -1) and how many of
-- them bought in each month since (months_since 0, 1, ...), purchases up to `to`. Trino (Athena) dialect.
WITH enrolled AS (
    SELECT detail.member_id AS member_id,
           year(CAST(day AS DATE)) * 12 + month(CAST(day AS DATE)) - 1 AS cohort
    FROM events
    WHERE detail_type = 'MemberEnrolled' AND day BETWEEN :from_day AND :to_day
),
bought AS (
    SELECT DISTINCT detail.member_id AS member_id,
           year(CAST(day AS DATE)) * 12 + month(CAST(day AS DATE)) - 1 AS bought_month
    FROM events
    WHERE detail_type = 'PointsEarned' AND day BETWEEN :from_day AND :to_day
)
SELECT cohort, -1 AS months_since, count(*) AS members
FROM enrolled
GROUP BY cohort
UNION ALL
SELECT e.cohort, b.bought_month - e.cohort AS months_since, count(*) AS members
FROM enrolled AS e
JOIN bought AS b ON b.member_id = e.member_id AND b.bought_month >= e.cohort
GROUP BY e.cohort, b.bought_month - e.cohort
