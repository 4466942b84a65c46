//! S3 credentials as Thanos picks them: `aws_sdk_auth: true` → the AWS SDK's default chain;
//! `access_key` → static keys; neither → the same default chain, except that a set
//! `sts_endpoint` sends web-identity role assumption (EKS service accounts, IRSA) there, like
//! minio-go's IAM provider with Thanos's `sts_endpoint`.

use aws_config::BehaviorVersion;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::future::ProvideCredentials as CredentialsFuture;
use aws_sdk_s3::config::{Credentials, ProvideCredentials, Region, SharedCredentialsProvider};

use crate::config::S3Config;

/// What to install on the SDK loader: `None` = the SDK's default chain.
pub(super) fn provider(cfg: &S3Config, region: Option<&str>) -> Option<SharedCredentialsProvider> {
    if !cfg.aws_sdk_auth && !cfg.access_key.is_empty() {
        let token = (!cfg.session_token.is_empty()).then(|| cfg.session_token.clone());
        let creds = Credentials::new(
            &cfg.access_key,
            &cfg.secret_key,
            token,
            None,
            "objstore-config",
        );
        return Some(SharedCredentialsProvider::new(creds));
    }
    if cfg.aws_sdk_auth || cfg.sts_endpoint.is_empty() {
        return None;
    }
    let web_identity = WebIdentity {
        sts_endpoint: cfg.sts_endpoint.clone(),
        region: region.unwrap_or("us-east-1").to_owned(),
    };
    let chain = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else("Profile", ProfileFileCredentialsProvider::builder().build())
    .or_else("WebIdentityToken(sts_endpoint)", web_identity)
    .or_else(
        "EcsContainer",
        aws_config::ecs::EcsCredentialsProvider::builder().build(),
    )
    .or_else(
        "Ec2InstanceMetadata",
        aws_config::imds::credentials::ImdsCredentialsProvider::builder().build(),
    );
    Some(SharedCredentialsProvider::new(chain))
}

/// `AssumeRoleWithWebIdentity` at `sts_endpoint`, from `AWS_WEB_IDENTITY_TOKEN_FILE` and
/// `AWS_ROLE_ARN` (and optional `AWS_ROLE_SESSION_NAME`).
#[derive(Debug)]
struct WebIdentity {
    sts_endpoint: String,
    region: String,
}

impl WebIdentity {
    async fn load(&self) -> Result<Credentials, CredentialsError> {
        let (Ok(token_file), Ok(role_arn)) = (
            std::env::var("AWS_WEB_IDENTITY_TOKEN_FILE"),
            std::env::var("AWS_ROLE_ARN"),
        ) else {
            return Err(CredentialsError::not_loaded(
                "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set",
            ));
        };
        let token = tokio::fs::read_to_string(&token_file).await.map_err(|e| {
            CredentialsError::invalid_configuration(format!("reading {token_file}: {e}"))
        })?;
        let session =
            std::env::var("AWS_ROLE_SESSION_NAME").unwrap_or_else(|_| "aeon-objstore".to_owned());
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(&self.sts_endpoint)
            .build();
        let resp = aws_sdk_sts::Client::from_conf(conf)
            .assume_role_with_web_identity()
            .role_arn(role_arn)
            .role_session_name(session)
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|e| {
                CredentialsError::provider_error(format!(
                    "AssumeRoleWithWebIdentity at {}: {}",
                    self.sts_endpoint,
                    aws_sdk_sts::error::DisplayErrorContext(&e)
                ))
            })?;
        let Some(c) = resp.credentials else {
            return Err(CredentialsError::provider_error(
                "STS returned no credentials",
            ));
        };
        let expiry = std::time::SystemTime::try_from(c.expiration).ok();
        Ok(Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            expiry,
            "WebIdentityToken(sts_endpoint)",
        ))
    }
}

impl ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(&'a self) -> CredentialsFuture<'a>
    where
        Self: 'a,
    {
        CredentialsFuture::new(self.load())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sources_follow_thanos_precedence() {
        let keys = S3Config {
            access_key: "a".into(),
            secret_key: "s".into(),
            ..S3Config::default()
        };
        let p = provider(&keys, None).unwrap();
        let c = p.provide_credentials().await.unwrap();
        assert_eq!(c.access_key_id(), "a");
        assert!(provider(&S3Config::default(), None).is_none());
        let sdk = S3Config {
            aws_sdk_auth: true,
            sts_endpoint: "https://sts.local".into(),
            ..S3Config::default()
        };
        assert!(provider(&sdk, None).is_none());
        let sts = S3Config {
            sts_endpoint: "https://sts.local".into(),
            ..S3Config::default()
        };
        assert!(provider(&sts, Some("eu-west-1")).is_some());
    }
}
