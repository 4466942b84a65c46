//! The transport as the AWS SDK's HTTP client.

use std::sync::Arc;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use super::{Transport, TransportError};

/// Wraps the transport for `aws_sdk_s3::config::Builder::http_client`. The SDK's connect and
/// read timeouts are not used: the transport applies Thanos's `http_config` timeouts.
pub(crate) fn client(transport: Transport<SdkBody>) -> SharedHttpClient {
    SharedHttpClient::new(SmithyClient(Arc::new(transport)))
}

#[derive(Debug, Clone)]
struct SmithyClient(Arc<Transport<SdkBody>>);

impl HttpClient for SmithyClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for SmithyClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(r) => r,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let transport = self.0.clone();
        HttpConnectorFuture::new(async move {
            let response = transport.send(request).await.map_err(connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

fn connector_error(e: TransportError) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else {
        // Connect failures, resets and broken pipes: all worth a retry.
        ConnectorError::io(e.into())
    }
}
