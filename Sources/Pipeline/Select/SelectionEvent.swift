/// What `FileSelector.run` reports, in traversal order.
public enum SelectionEvent: Sendable {
    case entry(SelectedEntry)
    case problem(SelectionProblem)
}
