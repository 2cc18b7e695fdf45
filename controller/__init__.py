"""The search: reward, samplers, the shared objective, in-process and Ray Tune execution, run folders.

Public entry point: `mixsearch.controller.search.SearchConfig` and `run_search(config)`;
trial records: `mixsearch.controller.trials.load_trials(run_dir)` (`records.TrialRecord`).
Modules are imported on use (Ray and Optuna are heavy), e.g.
`from mixsearch.controller.search import SearchConfig, run_search`.
"""
