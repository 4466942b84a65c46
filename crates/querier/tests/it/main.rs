//! Integration tests of the querier over real gRPC endpoints.
