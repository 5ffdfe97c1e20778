//! Go's `text/tabwriter` as docker configures it (`NewWriter(out, 10, 1, 3, ' ', 0)`).
//!
//! Cells are tab-terminated; the text after a line's last tab is not part of any column.
//! A column block is a run of consecutive lines that all have a cell in that column; its
//! width is the widest cell plus the padding (3), at least the minimum width (10). Blocks
//! are found recursively column by column, exactly as Go does, so a line with fewer cells
//! ends the blocks of the columns it lacks — that is what makes docker's tables line up
//! the way they do.

/// Docker's tabwriter settings.
const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

/// Aligns tab-separated text like docker's tabwriter; `text` is the whole output.
pub fn align(text: &str) -> String {
    align_with(text, MIN_WIDTH, PADDING)
}

/// Aligns with other settings (`docker top` uses a minimum width of 20).
pub fn align_with(text: &str, min_width: usize, padding: usize) -> String {
    let mut lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    // A trailing newline leaves an empty last line that Go never sees as a line.
    let trailing_newline = text.ends_with('\n');
    if trailing_newline {
        lines.pop();
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut widths = Vec::new();
    format(
        &lines,
        0,
        lines.len(),
        &mut widths,
        (min_width, padding),
        &mut out,
    );
    if !trailing_newline && out.ends_with('\n') {
        out.pop();
    }
    out
}

fn cell_width(c: &str) -> usize {
    c.chars().count()
}

fn format(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    cfg: (usize, usize),
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // `this` starts a block for `column`.
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = cfg.0;
        while this < line1 {
            let line = &lines[this];
            if column + 1 >= line.len() {
                break;
            }
            width = width.max(cell_width(line[column]) + cfg.1);
            this += 1;
        }
        widths.push(width);
        format(lines, line0, this, widths, cfg, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < line.len() {
                if let Some(w) = widths.get(j) {
                    for _ in cell_width(cell)..*w {
                        out.push(' ');
                    }
                }
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_ps_layout() {
        let t = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n\
                 e9c4f17fdc48\tbusybox\t\"sleep 100000\"\t4 seconds ago\tUp 3 seconds\t\ttr-d\n";
        assert_eq!(
            align(t),
            "CONTAINER ID   IMAGE     COMMAND          CREATED         STATUS         PORTS     NAMES\n\
             e9c4f17fdc48   busybox   \"sleep 100000\"   4 seconds ago   Up 3 seconds             tr-d\n"
        );
    }

    #[test]
    fn short_lines_end_blocks() {
        // The middle line has no cells: the columns above and below are aligned separately.
        let t = "a\tb\tc\nx\nlonger-cell-here\tb\tc\n";
        assert_eq!(
            align(t),
            "a         b         c\nx\nlonger-cell-here   b         c\n"
        );
    }
}
