//! Laying out a run's task executions (docs/cli.md#console "Run (DAG)"): columns by dependency depth,
//! and the indented tree used when the terminal is too narrow for columns.

use gofer_core::api::TaskExecution;
use std::collections::{BTreeMap, HashMap};

/// A graph pane narrower than this draws the tree instead of boxes when the graph does not fit.
pub const TREE_BELOW_WIDTH: u16 = 100;
/// Node boxes: width (borders included) and height.
pub const BOX_W: u16 = 22;
pub const BOX_H: u16 = 4;
/// Horizontal space between two columns of boxes (where edges run).
pub const GAP_X: u16 = 6;
/// Vertical space between two boxes of one column.
pub const GAP_Y: u16 = 1;

/// Where every task goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Task ids in selection order: by column, then by row.
    pub order: Vec<String>,
    /// Task id → (column, row).
    pub cells: HashMap<String, (u16, u16)>,
    /// (parent, child) pairs whose both ends are in the run.
    pub edges: Vec<(String, String)>,
    pub columns: u16,
    pub max_rows: u16,
}

impl Layout {
    /// Depth = longest path from a root; rows ordered by the mean row of the parents (so edges
    /// cross less), then by id. Dependencies on tasks missing from the run are ignored.
    pub fn new(tasks: &[TaskExecution]) -> Layout {
        let parents: BTreeMap<&str, Vec<&str>> = tasks
            .iter()
            .map(|t| {
                let ps = t
                    .task
                    .depends_on
                    .keys()
                    .map(String::as_str)
                    .filter(|p| tasks.iter().any(|o| o.task_id == *p))
                    .collect();
                (t.task_id.as_str(), ps)
            })
            .collect();
        let mut depth: HashMap<&str, u16> = HashMap::new();
        fn depth_of<'a>(
            id: &'a str,
            parents: &BTreeMap<&'a str, Vec<&'a str>>,
            depth: &mut HashMap<&'a str, u16>,
            guard: usize,
        ) -> u16 {
            if let Some(d) = depth.get(id) {
                return *d;
            }
            // `guard` bounds recursion should the server ever send a cycle.
            let d = if guard > parents.len() {
                0
            } else {
                parents
                    .get(id)
                    .into_iter()
                    .flatten()
                    .map(|p| depth_of(p, parents, depth, guard + 1) + 1)
                    .max()
                    .unwrap_or(0)
            };
            depth.insert(id, d);
            d
        }
        for id in parents.keys() {
            depth_of(id, &parents, &mut depth, 0);
        }
        let columns = depth.values().copied().max().map_or(0, |d| d + 1);
        let mut cells: HashMap<String, (u16, u16)> = HashMap::new();
        let mut order = Vec::new();
        let mut max_rows = 0;
        for column in 0..columns {
            let mut ids: Vec<&str> = parents
                .keys()
                .copied()
                .filter(|id| depth[id] == column)
                .collect();
            let weight = |id: &str| -> f64 {
                let rows: Vec<f64> = parents[id]
                    .iter()
                    .filter_map(|p| cells.get(*p).map(|c| f64::from(c.1)))
                    .collect();
                if rows.is_empty() {
                    0.0
                } else {
                    rows.iter().sum::<f64>() / rows.len() as f64
                }
            };
            ids.sort_by(|a, b| weight(a).total_cmp(&weight(b)).then(a.cmp(b)));
            for (row, id) in ids.iter().enumerate() {
                cells.insert(id.to_string(), (column, row as u16));
                order.push(id.to_string());
            }
            max_rows = max_rows.max(ids.len() as u16);
        }
        let edges = parents
            .iter()
            .flat_map(|(child, ps)| ps.iter().map(|p| (p.to_string(), child.to_string())))
            .collect();
        Layout {
            order,
            cells,
            edges,
            columns,
            max_rows,
        }
    }

    /// Top-left corner of a task's box in the virtual canvas.
    pub fn origin(&self, id: &str) -> Option<(u16, u16)> {
        self.cells
            .get(id)
            .map(|(c, r)| (c * (BOX_W + GAP_X), r * (BOX_H + GAP_Y)))
    }

    /// Size of the virtual canvas.
    pub fn size(&self) -> (u16, u16) {
        (
            (self.columns * (BOX_W + GAP_X)).saturating_sub(GAP_X),
            (self.max_rows * (BOX_H + GAP_Y)).saturating_sub(GAP_Y),
        )
    }
}

/// One line of the tree fallback: depth of indentation, task id, and whether it is the last
/// child of its tree parent (for `└─` vs `├─`), plus the guides of its ancestors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine {
    pub id: String,
    /// For each ancestor level: whether a `│` guide continues there.
    pub guides: Vec<bool>,
    pub last: bool,
    /// Other parents besides the tree parent (shown as `(after a, b)`).
    pub also_after: Vec<String>,
}

/// The tree fallback (`├─ ✔ build 12s`): each task appears once, under its deepest parent.
pub fn tree(tasks: &[TaskExecution], layout: &Layout) -> Vec<TreeLine> {
    let column = |id: &str| layout.cells.get(id).map_or(0, |c| c.0);
    let mut children: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    let mut others: HashMap<String, Vec<String>> = HashMap::new();
    for id in &layout.order {
        let task = tasks.iter().find(|t| &t.task_id == id);
        let mut parents: Vec<String> = task
            .map(|t| t.task.depends_on.keys().cloned().collect())
            .unwrap_or_default();
        parents.retain(|p| layout.cells.contains_key(p));
        parents.sort_by(|a, b| column(b).cmp(&column(a)).then(a.cmp(b)));
        let tree_parent = parents.first().cloned();
        others.insert(id.clone(), parents.iter().skip(1).cloned().collect());
        children.entry(tree_parent).or_default().push(id.clone());
    }
    let mut lines = Vec::new();
    fn walk(
        parent: Option<String>,
        guides: &mut Vec<bool>,
        children: &BTreeMap<Option<String>, Vec<String>>,
        others: &HashMap<String, Vec<String>>,
        lines: &mut Vec<TreeLine>,
    ) {
        let Some(kids) = children.get(&parent) else {
            return;
        };
        for (i, kid) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            lines.push(TreeLine {
                id: kid.clone(),
                guides: guides.clone(),
                last,
                also_after: others.get(kid).cloned().unwrap_or_default(),
            });
            guides.push(!last);
            walk(Some(kid.clone()), guides, children, others, lines);
            guides.pop();
        }
    }
    walk(None, &mut Vec::new(), &children, &others, &mut lines);
    lines
}
