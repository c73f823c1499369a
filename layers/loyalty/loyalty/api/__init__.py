"""HTTP side: request/response models, the shared resolver, authorization from JWT claims."""
