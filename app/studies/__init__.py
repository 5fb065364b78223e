"""Studies: Optuna searching a run config's fields, each trial a run.

`space` checks a search space and turns a trial's parameters into a run config; `optuna_storage` is
where Optuna keeps its trials (apart from torchdash's tables); `optuna_study` builds samplers,
pruners and studies; `steering` creates, reads and steers studies (the REST routes' domain);
`scheduler` keeps each running study's trials queued and tells Optuna how they ended;
`pruning` is the worker's side: each epoch's objective reported, and the verdict; `reading`
builds what the API shows of a study.

Optuna is imported only by these modules' functions, never at a server's start.
"""
