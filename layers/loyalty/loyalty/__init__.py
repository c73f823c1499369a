"""The shared loyalty package: program rules, domain, data access and API models.

Layers, each knowing only the one below:
  api      - request/response models, authorization, error mapping (used by handlers)
  service  - the use cases: load, decide with the domain, commit, retry lost races
  domain   - pure rules on plain values (no boto3)
  store    - pynamodb models and the few operations the use cases need
"""
