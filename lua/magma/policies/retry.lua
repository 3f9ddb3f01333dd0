-- Retries, then keep going: a failed shard gets up to 3 attempts in all, the second 60 s
-- after the first failure was seen, the third 120 s after the second (capped at one hour);
-- a shard that fails for good stops only what depends on it (Nextflow's long-asked
-- "retry then continue"). At most 32 running at once.
return {
  name = "retry",
  description = "3 attempts with capped exponential backoff, then continue",
  retry = { max_attempts = 3, delay = 60, factor = 2, max_delay = 3600 },
  on_exhausted = "continue",
  max_running = 32,
}
