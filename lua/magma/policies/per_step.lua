-- Per-step caps for a CGAP WGS pipeline: the alignment step is I/O heavy and the variant
-- caller memory hungry, so each has its own cap under a global one; the steps nearest the
-- end of the pipeline go first, so that finished samples come out early.
return {
  name = "per_step",
  description = "per-step caps and end-first priorities for CGAP WGS",
  max_running = 24,
  max_running_per_step = {
    ["workflow_bwa-mem_no_unzip-check"] = 8,
    ["workflow_gatk-HaplotypeCaller"] = 4,
  },
  priority = {
    ["workflow_gatk-CombineGVCFs"] = 30,
    ["workflow_gatk-HaplotypeCaller"] = 20,
    ["workflow_gatk-ApplyBQSR-check"] = 10,
  },
  retry = { max_attempts = 2, delay = 300 },
}
