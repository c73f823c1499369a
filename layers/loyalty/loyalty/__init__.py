"""The shared loyalty package: program rules, domain, data access and API models.

Layers, each knowing only the one below:
  api      - the shared HTTP base: one resolver, error mapping, shared fields (used by handlers)
  <feature>/api.py - each feature's request/response models (members, earning, rewards, reports, privacy,
             campaigns): a function imports only the features it serves
  service  - the use cases: load, decide with the domain, commit, retry lost races
  domain   - pure rules on plain values (no boto3)
  store    - pynamodb models and the few operations the use cases need
"""
