"""Pure numpy / scipy.sparse kernels: no Python loop over events, users or threads."""
