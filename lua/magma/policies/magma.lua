-- magma's own behaviour, with a launch cap: a shard is ready when every dependency
-- completed (magma's to_run), no retries (a failed shard stays failed, and the run's
-- final_status says failed), and at most 16 shards running at once (magma's run_metawfr
-- `maxcount`, applied to what runs rather than to one call).
return {
  name = "magma",
  description = "magma's to_run, no retries, at most 16 running",
  trigger = "all_success",
  max_running = 16,
}
