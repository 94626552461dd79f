from .hypercolumn_neck import HypercolumnNeck
