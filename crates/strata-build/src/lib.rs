//! The build engine: Dockerfile frontend to build graph, parallel solver with content-addressed cache, worker, exporters.
