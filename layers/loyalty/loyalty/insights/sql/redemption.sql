-- redemption: points issued (purchases, welcome, birthday and referral bonuses, credits), redeemed (net of cancellations) and expired in
-- [from, to]; the points issued that expire in the range (breakage's denominator); and, as a histogram, the days
-- from enrolment to first redemption of the members whose first redemption fell in the range. Trino dialect.
WITH first_redemptions AS (
    SELECT detail.member_id AS member_id, min(day) AS redeemed_on
    FROM events
    WHERE detail_type = 'PointsRedeemed' AND day <= :to_day
    GROUP BY detail.member_id
),
enrolled AS (
    SELECT detail.member_id AS member_id, day AS enrolled_on
    FROM events
    WHERE detail_type = 'MemberEnrolled' AND day <= :to_day
)
SELECT 'figures' AS kind,
       sum(CASE WHEN day >= :from_day AND detail_type = 'PointsEarned' THEN detail.points
                WHEN day >= :from_day AND detail_type = 'MemberEnrolled' THEN detail.points_balance
                WHEN day >= :from_day AND detail_type = 'PointsAdjusted' AND detail.points > 0 THEN detail.points
                WHEN day >= :from_day AND detail_type IN ('BirthdayBonusCredited', 'ReferralBonusCredited')
                     THEN detail.points
                ELSE 0 END) AS issued,
       sum(CASE WHEN day >= :from_day AND detail_type = 'PointsRedeemed' THEN detail.points
                WHEN day >= :from_day AND detail_type = 'RedemptionCancelled' THEN -detail.points
                ELSE 0 END) AS redeemed,
       sum(CASE WHEN day >= :from_day AND detail_type = 'PointsExpired' THEN detail.points ELSE 0 END) AS expired,
       sum(CASE WHEN detail_type IN ('PointsEarned', 'PointsAdjusted', 'BirthdayBonusCredited', 'ReferralBonusCredited')
                     AND detail.points > 0
                     AND substr(detail.expires_at, 1, 10) BETWEEN :from_day AND :to_day
                THEN detail.points ELSE 0 END) AS expiring
FROM events
WHERE day <= :to_day
UNION ALL
SELECT 'days_to_first_redemption' AS kind,
       date_diff('day', CAST(e.enrolled_on AS DATE), CAST(r.redeemed_on AS DATE)) AS issued,
       count(*) AS redeemed, 0 AS expired, 0 AS expiring
FROM first_redemptions AS r
JOIN enrolled AS e ON e.member_id = r.member_id
WHERE r.redeemed_on >= :from_day
GROUP BY date_diff('day', CAST(e.enrolled_on AS DATE), CAST(r.redeemed_on AS DATE))
