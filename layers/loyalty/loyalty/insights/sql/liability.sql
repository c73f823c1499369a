-- liability: the net change of outstanding points per month, over all history up to `to` (what was issued:
-- purchases, welcome, birthday and referral bonuses, credits; less what was redeemed, net of cancellations, what expired,
-- what returns took back and what erasures forfeited);
-- the outstanding balance at each month's end is their running sum. Trino dialect.
SELECT substr(day, 1, 7) AS month,
       sum(CASE WHEN detail_type = 'PointsEarned' THEN detail.points
                WHEN detail_type = 'MemberEnrolled' THEN detail.points_balance
                WHEN detail_type = 'BirthdayBonusCredited' THEN detail.points
                WHEN detail_type = 'ReferralBonusCredited' THEN detail.points
                WHEN detail_type = 'PointsAdjusted' THEN detail.points
                WHEN detail_type = 'RedemptionCancelled' THEN detail.points
                WHEN detail_type = 'PointsRedeemed' THEN -detail.points
                WHEN detail_type = 'PointsExpired' THEN -detail.points
                WHEN detail_type = 'PurchaseReturned' THEN -detail.points
                WHEN detail_type = 'PointsForfeited' THEN -detail.points
                ELSE 0 END) AS net_points
FROM events
WHERE day <= :to_day
GROUP BY substr(day, 1, 7)
