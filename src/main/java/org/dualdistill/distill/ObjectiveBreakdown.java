package org.dualdistill.distill;

/**
 * Every term of one objective evaluation as plain Java values, for logging. Terms that are switched off are 0.
 * Loss terms are unweighted; {@code total} is the weighted sum that was differentiated.
 *
 * @param total       a_ce L_ce + a_kd L_kd + b L_sdd + g L_rkd + d L_hint
 * @param ce          L_ce
 * @param kd          L_kd (DATW-fused target)
 * @param sdd         L_sdd
 * @param rkd         L_rkd = lambda_D L_D + lambda_A L_A
 * @param rkdDistance L_D
 * @param rkdAngle    L_A
 * @param hint        L_hint
 * @param weightMean  mean teacher weight per teacher index, [K]
 * @param weightMin   min over the batch, [K]
 * @param weightMax   max over the batch, [K]
 * @param confMean    mean DATW confidence per teacher, [K]
 * @param discMean    mean DATW discrepancy per teacher, [K]
 */
public record ObjectiveBreakdown(double total, double ce, double kd, double sdd, double rkd, double rkdDistance,
                                 double rkdAngle, double hint, double[] weightMean, double[] weightMin,
                                 double[] weightMax, double[] confMean, double[] discMean) {
}
