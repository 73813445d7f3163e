"""Collections, faces, users, jobs, audit records and vector indexes behind one interface (``base.Store``)."""
