//! The model as a scenario backend.

use afunix::TaskSpec;
use afunix_backend::{Backend, SimBackend};

#[test]
fn a_task_over_fs_nr_open_is_refused_as_the_host_refuses_it() {
    let mut b = SimBackend::new();
    let spec = TaskSpec {
        nofile: (1 << 20) + 1,
        ..TaskSpec::default()
    };
    let e = b.task(0, &spec).unwrap_err();
    assert!(e.0.contains("fs.nr_open"), "{}", e.0);
    // At the limit it is accepted.
    let spec = TaskSpec {
        nofile: 1 << 20,
        ..TaskSpec::default()
    };
    assert!(b.task(1, &spec).is_ok());
}
