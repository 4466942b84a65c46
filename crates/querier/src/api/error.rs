//! API errors: Prometheus's `errorType`s, the one mapping from each to its
//! HTTP status, and from engine and Store API errors to an `errorType`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::json::json_str;

/// Prometheus's `errorType` values the API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorType {
    /// Invalid parameters or query (400).
    BadData,
    /// The query failed while evaluating (422).
    Execution,
    /// A store or the server failed (500).
    Internal,
    /// The query ran out of time (503).
    Timeout,
    /// The query was canceled (499, the client closed the request).
    Canceled,
    /// The server cannot take the query now (503).
    Unavailable,
}

impl ErrorType {
    /// The `errorType` text.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::BadData => "bad_data",
            Self::Execution => "execution",
            Self::Internal => "internal",
            Self::Timeout => "timeout",
            Self::Canceled => "canceled",
            Self::Unavailable => "unavailable",
        }
    }

    /// The HTTP status Prometheus answers with this `errorType`.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::BadData => StatusCode::BAD_REQUEST,
            Self::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Timeout | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        }
    }
}

/// An API error: Prometheus's `errorType` and the message.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) kind: ErrorType,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorType::BadData, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Unavailable, message)
    }

    /// Maps an engine error as Prometheus's API does.
    pub(crate) fn from_promql(e: aeon_promql::Error) -> Self {
        use aeon_promql::Error as E;
        let kind = match &e {
            E::Parse { .. } => ErrorType::BadData,
            E::Timeout(_) => ErrorType::Timeout,
            E::Canceled(_) => ErrorType::Canceled,
            E::Storage(_) => ErrorType::Internal,
            E::Execution(_) | E::TooManySamples(_) => ErrorType::Execution,
        };
        Self::new(kind, e.to_string())
    }

    /// Maps a Store API error (partial response ABORT) by its gRPC code.
    pub(crate) fn from_store(e: aeon_storeapi::Error) -> Self {
        let st = tonic::Status::from(e);
        let kind = match st.code() {
            tonic::Code::InvalidArgument => ErrorType::BadData,
            tonic::Code::DeadlineExceeded => ErrorType::Timeout,
            _ => ErrorType::Internal,
        };
        Self::new(kind, st.message())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = format!(
            "{{\"status\":\"error\",\"errorType\":\"{}\",\"error\":{}}}",
            self.kind.as_str(),
            json_str(&self.message)
        );
        (
            self.kind.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_and_statuses_like_prometheus() {
        let cases = [
            (ErrorType::BadData, "bad_data", 400),
            (ErrorType::Execution, "execution", 422),
            (ErrorType::Internal, "internal", 500),
            (ErrorType::Timeout, "timeout", 503),
            (ErrorType::Canceled, "canceled", 499),
            (ErrorType::Unavailable, "unavailable", 503),
        ];
        for (t, name, status) in cases {
            assert_eq!((t.as_str(), t.status().as_u16()), (name, status));
        }
    }

    #[test]
    fn store_errors_by_grpc_code() {
        let e = ApiError::from_store(aeon_storeapi::Error::invalid("bad matcher"));
        assert_eq!(e.kind, ErrorType::BadData);
        let e = ApiError::from_store(aeon_storeapi::Error::DeadlineExceeded {
            deadline: std::time::Duration::from_secs(1),
        });
        assert_eq!(e.kind, ErrorType::Timeout);
        let e = ApiError::from_store(aeon_storeapi::Error::storage("x", "disk on fire"));
        assert_eq!(e.kind, ErrorType::Internal);
        assert!(e.message.contains("disk on fire"), "{}", e.message);
    }
}
