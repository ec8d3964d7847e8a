//! The pipeline DAG (docs/pipelines.md#writing-a-pipeline-config, docs/runs.md#conditions). `Dag::new` rejects unknown parents, self-dependencies,
//! duplicates and cycles, so the engine can only ever be handed a graph that terminates
//!. Plain functions and maps; no graph framework.

use crate::enums::RequiredParentStatus;
use std::collections::{BTreeMap, BTreeSet};

/// Why a set of tasks is not a DAG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagError {
    #[error("task '{task}': duplicate task id")]
    Duplicate { task: String },
    #[error("task '{task}': cannot depend on itself")]
    SelfDependency { task: String },
    #[error("task '{task}': depends_on references unknown task '{parent}'")]
    UnknownParent { task: String, parent: String },
    #[error("task '{}': dependency cycle {}", path[0], path.join(" -> "))]
    Cycle { path: Vec<String> },
}

/// A validated dependency graph: task id → parents with their required status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dag {
    parents: BTreeMap<String, BTreeMap<String, RequiredParentStatus>>,
    children: BTreeMap<String, BTreeSet<String>>,
    order: Vec<String>,
}

impl Dag {
    /// Builds the graph, checking (in this order) duplicates, self-dependencies, unknown parents
    /// and cycles. Task iteration order decides which of several problems is reported first.
    pub fn new<I>(tasks: I) -> Result<Dag, DagError>
    where
        I: IntoIterator<Item = (String, BTreeMap<String, RequiredParentStatus>)>,
    {
        let tasks: Vec<_> = tasks.into_iter().collect();
        let mut parents = BTreeMap::new();
        for (id, deps) in &tasks {
            if parents.insert(id.clone(), deps.clone()).is_some() {
                return Err(DagError::Duplicate { task: id.clone() });
            }
        }
        for (id, deps) in &tasks {
            if deps.contains_key(id) {
                return Err(DagError::SelfDependency { task: id.clone() });
            }
        }
        for (id, deps) in &tasks {
            if let Some(parent) = deps.keys().find(|p| !parents.contains_key(*p)) {
                return Err(DagError::UnknownParent {
                    task: id.clone(),
                    parent: parent.clone(),
                });
            }
        }
        if let Some(path) = find_cycle(&parents) {
            return Err(DagError::Cycle { path });
        }
        let mut children: BTreeMap<String, BTreeSet<String>> = parents
            .keys()
            .map(|k| (k.clone(), BTreeSet::new()))
            .collect();
        for (id, deps) in &parents {
            for parent in deps.keys() {
                children
                    .get_mut(parent)
                    .expect("parent checked above")
                    .insert(id.clone());
            }
        }
        let order = topological_order(&parents, &children);
        Ok(Dag {
            parents,
            children,
            order,
        })
    }

    /// Task ids, parents before children; among tasks that are ready together, by id. The order
    /// depends only on the graph, never on input order.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// Parents of `task` with the status each must end in.
    pub fn parents(&self, task: &str) -> Option<&BTreeMap<String, RequiredParentStatus>> {
        self.parents.get(task)
    }

    /// Tasks that depend on `task`.
    pub fn children(&self, task: &str) -> Option<&BTreeSet<String>> {
        self.children.get(task)
    }

    /// Whether `ancestor` is reachable from `task` by following `depends_on` edges.
    pub fn is_ancestor(&self, ancestor: &str, task: &str) -> bool {
        let mut stack: Vec<&str> = vec![task];
        let mut seen = BTreeSet::new();
        while let Some(t) = stack.pop() {
            for p in self.parents.get(t).into_iter().flat_map(|m| m.keys()) {
                if p == ancestor {
                    return true;
                }
                if seen.insert(p.as_str()) {
                    stack.push(p);
                }
            }
        }
        false
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Kahn's algorithm with a sorted ready set.
fn topological_order(
    parents: &BTreeMap<String, BTreeMap<String, RequiredParentStatus>>,
    children: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut remaining: BTreeMap<&str, usize> =
        parents.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
    let mut ready: BTreeSet<&str> = remaining
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut order = Vec::with_capacity(parents.len());
    while let Some(next) = ready.pop_first() {
        order.push(next.to_string());
        for child in &children[next] {
            let n = remaining.get_mut(child.as_str()).expect("child is a task");
            *n -= 1;
            if *n == 0 {
                ready.insert(child);
            }
        }
    }
    order
}

/// Iterative depth-first search over `depends_on` edges; returns one cycle as `a -> b -> … -> a`.
fn find_cycle(
    parents: &BTreeMap<String, BTreeMap<String, RequiredParentStatus>>,
) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        White,
        Grey,
        Black,
    }
    let mut mark: BTreeMap<&str, Mark> =
        parents.keys().map(|k| (k.as_str(), Mark::White)).collect();
    for start in parents.keys() {
        if mark[start.as_str()] != Mark::White {
            continue;
        }
        let mut path: Vec<&str> = vec![start];
        let mut stack = vec![parents[start].keys()];
        mark.insert(start, Mark::Grey);
        while let Some(edges) = stack.last_mut() {
            match edges.next() {
                Some(parent) => match mark[parent.as_str()] {
                    Mark::Grey => {
                        let from = path
                            .iter()
                            .position(|t| *t == parent)
                            .expect("grey is on path");
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|s| s.to_string()).collect();
                        cycle.push(parent.clone());
                        return Some(cycle);
                    }
                    Mark::White => {
                        mark.insert(parent, Mark::Grey);
                        path.push(parent);
                        stack.push(parents[parent].keys());
                    }
                    Mark::Black => {}
                },
                None => {
                    mark.insert(path.pop().expect("path follows stack"), Mark::Black);
                    stack.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequiredParentStatus::Success;
    use proptest::prelude::*;

    fn task(id: &str, deps: &[&str]) -> (String, BTreeMap<String, RequiredParentStatus>) {
        (
            id.to_string(),
            deps.iter().map(|d| (d.to_string(), Success)).collect(),
        )
    }

    #[test]
    fn errors_are_named() {
        let e = Dag::new([task("a", &["a"])]).unwrap_err();
        assert_eq!(e.to_string(), "task 'a': cannot depend on itself");
        let e = Dag::new([task("a", &["x"])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "task 'a': depends_on references unknown task 'x'"
        );
        let e = Dag::new([task("a", &[]), task("a", &[])]).unwrap_err();
        assert_eq!(e.to_string(), "task 'a': duplicate task id");
        let e = Dag::new([task("a", &["b"]), task("b", &["c"]), task("c", &["a"])]).unwrap_err();
        assert_eq!(e.to_string(), "task 'a': dependency cycle a -> b -> c -> a");
    }

    #[test]
    fn ancestors() {
        let dag = Dag::new([
            task("a", &[]),
            task("b", &["a"]),
            task("c", &["b"]),
            task("d", &[]),
        ])
        .unwrap();
        assert!(dag.is_ancestor("a", "c"));
        assert!(!dag.is_ancestor("c", "a"));
        assert!(!dag.is_ancestor("d", "c"));
        assert_eq!(dag.order(), ["a", "b", "c", "d"].map(String::from));
    }

    /// An acyclic graph by construction: task i may only depend on tasks j < i.
    fn acyclic() -> impl Strategy<Value = Vec<(String, BTreeMap<String, RequiredParentStatus>)>> {
        (1usize..30)
            .prop_flat_map(|n| {
                let edges =
                    proptest::collection::vec(proptest::collection::vec(any::<bool>(), n), n);
                (Just(n), edges)
            })
            .prop_map(|(n, edges)| {
                (0..n)
                    .map(|i| {
                        let deps = (0..i)
                            .filter(|j| edges[i][*j])
                            .map(|j| (format!("t{j:02}"), Success))
                            .collect();
                        (format!("t{i:02}"), deps)
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn order_respects_edges_and_ignores_input_order(
            tasks in acyclic(),
            seed in any::<u64>(),
        ) {
            let dag = Dag::new(tasks.clone()).unwrap();
            let pos: BTreeMap<&str, usize> =
                dag.order().iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
            prop_assert_eq!(pos.len(), tasks.len());
            for (id, deps) in &tasks {
                for parent in deps.keys() {
                    prop_assert!(pos[parent.as_str()] < pos[id.as_str()]);
                }
            }
            // Shuffle deterministically from the seed; the graph (and so the order) is unchanged.
            let mut shuffled = tasks.clone();
            let mut s = seed | 1;
            for i in (1..shuffled.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                shuffled.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let again = Dag::new(shuffled).unwrap();
            prop_assert_eq!(dag.order(), again.order());
        }

        #[test]
        fn any_back_edge_is_rejected(tasks in acyclic(), pick in any::<(usize, usize)>()) {
            prop_assume!(tasks.len() >= 2);
            // Add an edge from an earlier task to a later one it (transitively) precedes.
            let dag = Dag::new(tasks.clone()).unwrap();
            let lo = pick.0 % (tasks.len() - 1);
            let hi = lo + 1 + pick.1 % (tasks.len() - lo - 1);
            let (lo_id, hi_id) = (tasks[lo].0.clone(), tasks[hi].0.clone());
            let mut tasks = tasks;
            // Make hi depend on lo (if not already) so that lo -> hi closes a cycle.
            tasks[hi].1.insert(lo_id.clone(), Success);
            tasks[lo].1.insert(hi_id.clone(), Success);
            let err = Dag::new(tasks).unwrap_err();
            let is_cycle = matches!(err, DagError::Cycle { .. });
            prop_assert!(is_cycle, "{}", err);
            let _ = dag;
        }
    }
}
