//! The `-f` files beside the cluster in Kubernetes mode. Each resource of a file is a
//! [`Candidate`] on its own; a file that cannot be read whole (a YAML syntax error) keeps its
//! last good resources in force and is reported as one status entry, `file PATH`, rejected
//! (with its last good version kept when it had one), like a cluster object would be.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::candidates::{Candidate, file_candidates};
use super::gate::describe;
use crate::reload::{ResourceState, ResourceStatus};

/// The files' resources as last read whole, by file.
#[derive(Debug, Default)]
pub struct Files {
    last_good: BTreeMap<String, Vec<Candidate>>,
}

impl Files {
    /// Reads `paths`: the resources to build with, and a status for each file not read whole.
    pub fn read(
        &mut self,
        paths: &[PathBuf],
        default_ns: &str,
    ) -> (Vec<Candidate>, Vec<ResourceStatus>) {
        let (mut read, whole_file) = file_candidates(paths, default_ns);
        let mut broken: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in &whole_file {
            let file = d.file.as_ref().map(|f| f.display().to_string());
            broken
                .entry(file.unwrap_or_default())
                .or_default()
                .push(describe(d));
        }
        let mut last_good: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
        for c in read.iter().filter(|c| !broken.contains_key(&c.source)) {
            last_good
                .entry(c.source.clone())
                .or_default()
                .push(c.clone());
        }
        read.retain(|c| !broken.contains_key(&c.source));
        let mut statuses = Vec::new();
        for (file, errors) in broken {
            let kept = self.last_good.remove(&file);
            let state = match &kept {
                Some(_) => ResourceState::RejectedKeptLastGood,
                None => ResourceState::Rejected,
            };
            tracing::error!(file = %file, state = state.as_str(),
                "file not read, the cluster and the other files apply: {}", errors.join("; "));
            if let Some(kept) = kept {
                read.extend(kept.iter().cloned());
                last_good.insert(file.clone(), kept);
            }
            let resource = if file.is_empty() {
                "files".to_string()
            } else {
                format!("file {file}")
            };
            statuses.push(ResourceStatus {
                resource,
                source: file,
                state,
                errors,
            });
        }
        self.last_good = last_good;
        (read, statuses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: ns}\nspec:\n  hosts: [ext.example.com]\n  ports: [{number: 80, name: http}]\n  resolution: STATIC\n  endpoints: [{address: 127.0.0.9}]\n";

    #[test]
    fn a_file_broken_later_keeps_its_last_good_resources_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ext.yaml");
        std::fs::write(&path, GOOD).unwrap();
        let mut files = Files::default();
        let paths = [path.clone()];
        let (read, statuses) = files.read(&paths, "default");
        assert_eq!(read.len(), 1);
        assert!(statuses.is_empty());

        std::fs::write(&path, format!("{GOOD}  broken: [\n")).unwrap();
        let (read, statuses) = files.read(&paths, "default");
        assert_eq!(
            read.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
            ["ServiceEntry ns/ext"]
        );
        let [status] = statuses.as_slice() else {
            panic!("{statuses:?}")
        };
        assert_eq!(status.resource, format!("file {}", path.display()));
        assert_eq!(status.state, ResourceState::RejectedKeptLastGood);
        assert!(!status.errors.is_empty());

        // A file broken from the start has nothing to keep.
        let mut fresh = Files::default();
        let (read, statuses) = fresh.read(&paths, "default");
        assert!(read.is_empty());
        assert_eq!(statuses[0].state, ResourceState::Rejected);
    }
}
