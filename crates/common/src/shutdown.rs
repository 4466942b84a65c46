//! Graceful shutdown: one [`CancellationToken`] cancelled on SIGTERM or
//! SIGINT, which every server and loop of a service watches.

pub use tokio_util::sync::CancellationToken;

/// Returns a token cancelled when the process receives SIGTERM or SIGINT.
/// Must be called inside a tokio runtime.
pub fn on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("received termination signal, shutting down");
        t.cancel();
    });
    token
}

/// Waits for a server task after shutdown for at most `grace` (Thanos's
/// `--http-grace-period` / `--grpc-grace-period`); past it the task is
/// aborted, dropping in-flight requests. `None` when it was cut off or its
/// task failed (both logged, `what` naming the server).
pub async fn drain<T>(
    mut task: tokio::task::JoinHandle<T>,
    grace: std::time::Duration,
    what: &str,
) -> Option<T> {
    match tokio::time::timeout(grace, &mut task).await {
        Ok(Ok(r)) => Some(r),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "{what} server task failed");
            None
        }
        Err(_) => {
            tracing::warn!(grace = ?grace, "{what} grace period over, dropping in-flight requests");
            task.abort();
            None
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot install signal handlers; falling back to ctrl-c");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn drain_waits_at_most_the_grace_period() {
        let quick = tokio::spawn(async { 7 });
        assert_eq!(drain(quick, Duration::from_secs(5), "test").await, Some(7));
        let stuck = tokio::spawn(std::future::pending::<()>());
        let t = std::time::Instant::now();
        assert_eq!(drain(stuck, Duration::from_millis(50), "test").await, None);
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn sigterm_cancels_the_token() {
        let token = on_signals();
        // Give the handler task a moment to install its signal streams.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(std::time::Duration::from_secs(5), token.cancelled())
            .await
            .expect("token cancelled after SIGTERM");
    }
}
