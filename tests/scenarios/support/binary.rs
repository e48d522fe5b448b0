//! The `shadowmesh` binary as users run it: [`command`] for one-shot commands, and
//! `binary::run(dir).listen(port).admin(port).spawn()` for a proxy in a child process, which is
//! killed (by its own pid) if the test ends before it stops.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `shadowmesh` with no arguments yet.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shadowmesh"))
}

/// `shadowmesh run --namespace challengeistio -f <dir>`, to be spawned.
#[must_use]
pub struct Run {
    command: Command,
}

/// `shadowmesh run` on the config folder `dir`.
pub fn run(dir: &Path) -> Run {
    let mut command = command();
    command
        .args(["run", "--namespace", "challengeistio", "-f"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Run { command }
}

impl Run {
    /// `--listen 127.0.0.1:<port>`.
    pub fn listen(mut self, port: u16) -> Self {
        self.command
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        self
    }

    /// `--admin 127.0.0.1:<port>` (0: any).
    pub fn admin(mut self, port: u16) -> Self {
        self.command.arg("--admin").arg(format!("127.0.0.1:{port}"));
        self
    }

    /// More arguments, as given.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.command.args(args);
        self
    }

    /// Keeps its stdout (the access log) for [`Spawned::stdout_lines`].
    pub fn capture_stdout(mut self) -> Self {
        self.command.stdout(Stdio::piped());
        self
    }

    /// Keeps its stderr (the logs) for [`Spawned::stderr_lines`].
    pub fn capture_stderr(mut self) -> Self {
        self.command.stderr(Stdio::piped());
        self
    }

    /// Starts it.
    pub fn spawn(mut self) -> Spawned {
        Spawned(Some(self.command.spawn().expect("shadowmesh starts")))
    }
}

/// A child `shadowmesh run`.
pub struct Spawned(Option<Child>);

impl Spawned {
    /// Owns a child started by hand (killed if the test ends first).
    pub fn from_child(child: Child) -> Self {
        Self(Some(child))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("still running")
    }

    /// Its process id (for `/proc/<pid>/...`).
    pub fn pid(&mut self) -> u32 {
        self.child().id()
    }

    /// Has it not exited yet?
    pub fn is_running(&mut self) -> bool {
        self.child().try_wait().unwrap().is_none()
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod.
    pub fn sigterm(&mut self) {
        let pid = self.child().id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
    }

    /// Every line it wrote on stdout, read until it closes it.
    pub fn stdout_lines(&mut self) -> Vec<String> {
        use std::io::{BufRead, BufReader};
        let stdout = self.child().stdout.take().expect("captured stdout");
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect()
    }

    /// Every line it wrote on stderr, read until it closes it.
    pub fn stderr_lines(&mut self) -> Vec<String> {
        use std::io::{BufRead, BufReader};
        let stderr = self.child().stderr.take().expect("captured stderr");
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect()
    }

    /// Waits (off the runtime's threads) for it to exit; its exit code.
    pub async fn exit_code(mut self) -> Option<i32> {
        let mut child = self.0.take().expect("still running");
        let status = tokio::task::spawn_blocking(move || child.wait()).await;
        status.unwrap().unwrap().code()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
