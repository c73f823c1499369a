-- campaign_lift: the members enrolled by `to`, split into treated and held out by the campaign's holdout hash
-- (loyalty.domain.holdout: the first 32 bits of SHA-256("<campaign_id>:<member_id>") modulo 100, below the
-- holdout percent), with their purchases, spend (its sum and sum of squares, for Welch's interval) and the points
-- the campaign awarded them in [from, to]. Trino dialect.
WITH audience AS (
    SELECT DISTINCT detail.member_id AS member_id,
           from_base(substr(to_hex(sha256(to_utf8(concat(:campaign_id, ':', detail.member_id)))), 1, 8), 16) % 100
               < :holdout_percent AS held_out
    FROM events
    WHERE detail_type = 'MemberEnrolled' AND day <= :to_day
),
bought AS (
    SELECT detail.member_id AS member_id, count(*) AS purchases, sum(detail.amount_minor) AS spend
    FROM events
    WHERE detail_type = 'PointsEarned' AND day BETWEEN :from_day AND :to_day
    GROUP BY detail.member_id
),
awarded AS (
    SELECT detail.member_id AS member_id, sum(line.points) AS points
    FROM events
    CROSS JOIN UNNEST(detail.breakdown) AS line (source, campaign_id, points, program_version)
    WHERE detail_type = 'PointsEarned' AND day BETWEEN :from_day AND :to_day AND line.campaign_id = :campaign_id
    GROUP BY detail.member_id
)
SELECT a.held_out,
       count(*) AS members,
       sum(CASE WHEN b.purchases > 0 THEN 1 ELSE 0 END) AS buyers,
       sum(coalesce(b.purchases, 0)) AS purchases,
       sum(coalesce(b.spend, 0)) AS spend,
       sum(CAST(coalesce(b.spend, 0) AS DOUBLE) * CAST(coalesce(b.spend, 0) AS DOUBLE)) AS spend_squares,
       sum(coalesce(w.points, 0)) AS campaign_points
FROM audience AS a
LEFT JOIN bought AS b ON b.member_id = a.member_id
LEFT JOIN awarded AS w ON w.member_id = a.member_id
GROUP BY a.held_out
