/// The console's pages, script and styles, and the widget: plain files under
/// `Console/Assets` and `Widget/Assets`, compiled into the binary so a deployment is one
/// file and a page can never go missing at run time.
enum ConsoleAssets {
    static let index = StaticAsset(PackageResources.index_html, contentType: "text/html; charset=utf-8")
    static let login = StaticAsset(PackageResources.login_html, contentType: "text/html; charset=utf-8")
    static let script = StaticAsset(PackageResources.console_js, contentType: "text/javascript; charset=utf-8")
    static let styles = StaticAsset(PackageResources.console_css, contentType: "text/css; charset=utf-8")
    static let widget = StaticAsset(PackageResources.widget_js, contentType: "text/javascript; charset=utf-8")

    /// Files under `P/admin/assets/`.
    static let byName: [String: StaticAsset] = ["console.js": script, "console.css": styles]
}
