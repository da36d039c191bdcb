// Compare.swift: the one relative-error measure the checks use (tests, `hrm check-reference`).

/// Relative L2 error ‖a − b‖ / max(‖b‖, 1e-30), accumulated in Double; infinity when any
/// difference is NaN or the lengths differ.
public func relativeError(_ a: [Float], _ b: [Float]) -> Double {
  guard a.count == b.count else { return .infinity }
  var num = 0.0, den = 0.0
  for i in 0..<a.count {
    let d = Double(a[i]) - Double(b[i])
    if d.isNaN { return .infinity }
    num += d * d
    den += Double(b[i]) * Double(b[i])
  }
  return (num / max(den, 1e-30)).squareRoot()
}
