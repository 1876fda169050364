"""Files for people: the one cell-writing layer (cells) and the audit every export goes through (audit).

    cells   CSV/XLSX writers; text a spreadsheet would evaluate is neutralised, never a formula
    audit   audited_export: who, what, where and exactly which customers, committed before a row leaves
"""
