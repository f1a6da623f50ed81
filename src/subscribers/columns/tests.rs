use super::*;

/// Run `edit` on a list holding `before`; check the outcome and the whole file after.
#[track_caller]
fn case(before: &str, edit: impl FnOnce(&Path, &Path) -> Result<(), Error>, outcome: Result<(), &str>, after: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.csv");
    std::fs::write(&path, before).unwrap();
    let got = edit(&path, Path::new("subscribers/list.csv")).map_err(|e| e.to_string());
    assert_eq!(got, outcome.map_err(str::to_owned));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
}

#[test]
fn an_added_column_is_empty_in_every_row_and_every_other_byte_is_kept() {
    let add = |name: &'static str| move |path: &Path, shown: &Path| add_column(path, shown, name);
    case("email,name\na@example.org,A\n", add("region"), Ok(()), "email,name,region\na@example.org,A,\n");
    case(
        "email,name\r\n\r\n\"a@example.org\",\"A\nB\"\r\nbad row,x,y\r\nc@example.org,C",
        add("home, town"),
        Ok(()),
        "email,name,\"home, town\"\r\n\r\n\"a@example.org\",\"A\nB\",\r\nbad row,x,y,\r\nc@example.org,C,",
    );
    case("email\n", add(" status "), Ok(()), "email,status\n");
    case(
        "email,Region\n",
        add("region"),
        Err("`subscribers/list.csv` already has a column `Region`"),
        "email,Region\n",
    );
    case("email\n", add("EMAIL"), Err("`subscribers/list.csv` already has a column `email`"), "email\n");
    case("email\n", add("a\tb"), Err("a column name must fit on one line, without control characters"), "email\n");
}

#[test]
fn a_renamed_column_changes_the_header_only() {
    let rename =
        |old: &'static str, new: &'static str| move |path: &Path, shown: &Path| rename_column(path, shown, old, new);
    case("email,region\na@example.org,x\n", rename("region", "area"), Ok(()), "email,area\na@example.org,x\n");
    case(
        "\u{feff}\"full name\",email\r\n\"A, B\",a@example.org\r\n",
        rename("full name", "name"),
        Ok(()),
        "\u{feff}name,email\r\n\"A, B\",a@example.org\r\n",
    );
    case("email,region\n", rename("region", "home, town"), Ok(()), "email,\"home, town\"\n");
    let refused = [
        ("Email", "address", "the `email` column cannot be renamed: letterpress reads it by that name"),
        ("status", "state", "the `status` column cannot be renamed: letterpress reads it by that name"),
        ("region", "Status", "`subscribers/list.csv` already has a column `status`"),
        ("region", "plan", "`subscribers/list.csv` already has a column `plan`"),
        ("regoin", "area", "`subscribers/list.csv` has no column `regoin`; did you mean `region`?"),
    ];
    for (old, new, message) in refused {
        let before = "email,region,status,plan\n";
        case(before, move |path: &Path, shown: &Path| rename_column(path, shown, old, new), Err(message), before);
    }
}

#[test]
fn new_attributes_must_not_shadow_or_misspell_a_column() {
    let columns = ["email".to_owned(), "name".to_owned(), "region".to_owned()];
    let check = |name| {
        refuse_new_attribute(name, &columns, Path::new("subscribers/weekly.csv"), "weekly").map_err(|e| e.to_string())
    };
    assert_eq!(check("plan"), Ok(()));
    assert_eq!(check("Status"), Err("`status` is not an attribute; set it with `--name` or edit the list".to_owned()));
    assert!(check("Regoin").unwrap_err().contains("did you mean `region`?"));
}
