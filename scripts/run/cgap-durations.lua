-- Typical durations (seconds) of the CGAP WGS trio steps on one sample, for simulations.
local h = 3600
return {
  ["workflow_bwa-mem_no_unzip-check"] = 4 * h,
  ["workflow_add-readgroups-check"] = 0.5 * h,
  ["workflow_merge-bam-check"] = 1 * h,
  ["workflow_picard-MarkDuplicates-check"] = 2 * h,
  ["workflow_sort-bam-check"] = 1 * h,
  ["workflow_gatk-BaseRecalibrator"] = 1.5 * h,
  ["workflow_gatk-ApplyBQSR-check"] = 1 * h,
  ["workflow_gatk-HaplotypeCaller"] = 3 * h,
  ["workflow_gatk-CombineGVCFs"] = 0.5 * h,
}
